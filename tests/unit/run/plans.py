"""A target of given backend URLs and a short smoke plan on it, for judging tests that point
each backend at a fake (or a closed port) and call the run's check functions directly."""

from __future__ import annotations

from pathlib import Path

from chaosgate.run.profiles import Profile
from chaosgate.run.run_plan import RunPlan
from chaosgate.target import (
    AlertmanagerConfig,
    Deadlines,
    ElasticsearchConfig,
    JaegerConfig,
    PrometheusConfig,
    SinkConfig,
    Target,
)

__all__ = ["smoke_plan", "target_at"]


def target_at(
    jaeger: str, es: str, prometheus: str, alertmanager: str, sink: str, *, deadline_s: float
) -> Target:
    """A target whose backends are at these URLs, with traces and logs deadlines of
    ``deadline_s`` (short: a test waits them out)."""
    return Target(
        name="faked",
        jaeger=JaegerConfig(query_url=jaeger),
        elasticsearch=ElasticsearchConfig(url=es),
        prometheus=PrometheusConfig(url=prometheus),
        alertmanager=AlertmanagerConfig(url=alertmanager),
        sink=SinkConfig(url=sink),
        deadlines=Deadlines(traces_s=deadline_s, logs_s=deadline_s),
    )


def smoke_plan(target: Target, run_dir: Path) -> RunPlan:
    profile = Profile("smoke", duration_s=40, users=1, spawn_rate=1.0, experiments=())
    return RunPlan("run", run_dir, target, profile, ())
