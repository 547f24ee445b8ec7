"""From validated inputs to a run: the plan, its printout (``--dry-run``), and its execution."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import requests
from rich.console import Console

from chaosgate.run.backends import build_backends
from chaosgate.run.campaign import RunOutcome, RunPlan, run_campaign
from chaosgate.run.profiles import Profile
from chaosgate.run.progress import Progress
from chaosgate.target import Target

__all__ = ["build_plan", "describe_plan", "execute_plan"]


def build_plan(
    target: Target,
    profile: Profile,
    experiments: Sequence[Path],
    reports_dir: Path,
    *,
    command: Sequence[str] = (),
) -> RunPlan:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    run_id = f"{stamp}-{profile.name}-{secrets.token_hex(2)}"
    return RunPlan(
        run_id=run_id,
        run_dir=(reports_dir / run_id).resolve(),
        target=target,
        profile=profile,
        experiments=tuple(experiments),
        command=tuple(command),
    )


def describe_plan(plan: RunPlan) -> str:
    p = plan.profile
    es = plan.target.elasticsearch
    lines = [
        f"run {plan.run_id}: profile {p.name!r} against target {plan.target.name!r}",
        f"  load: {p.users} users, spawn {p.spawn_rate}/s, {p.duration_s} s, "
        f"{', '.join(p.scenarios)}, seed {p.seed}, {p.processes} Locust process(es)",
        f"  gateway {plan.target.gateway_url}; Jaeger {plan.target.jaeger.query_url}; "
        f"Elasticsearch {es.url} ({es.index_pattern})",
        f"  chaos: first fault at +{p.chaos_start_s} s, {p.recovery_s} s between faults",
    ]
    lines += [f"    - {path.name}" for path in plan.experiments] or ["    (no experiments)"]
    d = plan.target.deadlines
    lines.append(
        f"  deadlines: traces {d.traces_s:g} s, logs {d.logs_s:g} s, alerts {d.alerts_s:g} s; "
        f"completeness >= {p.completeness:g}"
    )
    lines.append(f"  reports: {plan.run_dir}")
    return "\n".join(lines)


def execute_plan(plan: RunPlan, console: Console) -> RunOutcome:
    es = plan.target.elasticsearch
    timeout = httpx.Timeout(10.0)
    with (
        httpx.Client(timeout=timeout) as http,
        httpx.Client(timeout=timeout, verify=es.verify_tls) as es_http,
        requests.Session() as session,
    ):
        backends = build_backends(plan.target, http, es_http, session)
        outcome = run_campaign(plan, backends, progress=Progress(console))
    console.print(
        f"verdict: [bold]{outcome.verdict}[/] (exit {outcome.exit_code}); "
        f"{sum(1 for c in outcome.checks if c.passed)}/{len(outcome.checks)} checks passed; "
        f"summary: {outcome.summary_path}"
    )
    return outcome
