"""What a run reaches outside itself, passed in: :class:`CampaignParts`.

:func:`~chaosgate.run.campaign.run_campaign` asks the backends (the warm-up, the parts'
versions, the alerting setup), starts the alert watcher, the load and the ingest-lag probe,
runs the chaos phase and the judges, and reads the clock, all through one
``CampaignParts``. Its defaults are the real ones; a test passes fakes (no network, no
process), so a run's control flow (what is stopped, what is reported when a phase raises) is
tested without a stack. The load and the probe are typed by what the run asks of them
(:class:`RunningLoad`, :class:`~chaosgate.run.judge_phase.LagProbe`), so a fake need not be
a Locust process or a polling thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from assertions.checks.alert_watcher import AlertWatcher
from assertions.checks.ingest_lag import IngestLagProbe
from assertions.checks.warmup import WarmupBackends, check_warmup
from assertions.result import CheckResult
from chaosgate.request_ledger import LedgerTail
from chaosgate.run.alert_judging import AlertingSetup, read_alerting
from chaosgate.run.chaos_phase import ChaosPhaseInputs, chaostoolkit_log, run_chaos_timeline
from chaosgate.run.judge_phase import FinishedRun, LagProbe, Recorder, judge_run
from chaosgate.run.live_parts import with_query_latency
from chaosgate.run.load import LoadResult, start_load
from chaosgate.run.part_versions import ChaosgateBuild, chaosgate_build, read_part_versions
from chaosgate.run.run_plan import RunPlan
from chaosgate.target import Target
from chaosgate.vocabulary import Clock

__all__ = ["REAL_PARTS", "CampaignParts", "ChaosPhase", "RunningLoad"]


class RunningLoad(Protocol):
    """What the run asks of its load (:class:`~chaosgate.run.load.LoadProcess`)."""

    @property
    def pid(self) -> int: ...

    @property
    def web_url(self) -> str | None: ...

    def running(self) -> bool: ...

    def wait(self, timeout_s: float) -> LoadResult: ...

    def stop(self) -> None: ...

    def end(self, grace_s: float) -> LoadResult: ...


ChaosPhase = Callable[[ChaosPhaseInputs], None]
"""Beside the load: the experiments in turn, each appended to ``inputs.results`` as it ends
(:func:`~chaosgate.run.chaos_phase.run_chaos_timeline`)."""


def _watch_alerts(backends: WarmupBackends) -> AlertWatcher:
    return AlertWatcher(backends.alertmanager).start()


def _start_load(plan: RunPlan) -> RunningLoad:
    return start_load(
        plan.profile, plan.target.gateway_url, plan.run_dir, run_id=plan.run_id, web=plan.web
    )


def _start_probe(plan: RunPlan, backends: WarmupBackends) -> LagProbe:
    deadlines = plan.target.deadlines
    return IngestLagProbe(
        LedgerTail(plan.run_dir / "ledger"),
        jaeger=backends.jaeger,
        elasticsearch=backends.elasticsearch,
        trace_id_field=plan.target.elasticsearch.trace_id_field,
        traces_deadline_s=deadlines.traces_s,
        logs_deadline_s=deadlines.logs_s,
        seed=plan.profile.seed,
    ).start()


# the ingest-lag probe, with traces.query_latency's probe beside it
_start_probes = with_query_latency(_start_probe)


def _chaos_phase(inputs: ChaosPhaseInputs) -> None:
    # chaoslib's own log goes to the run's folder, not into the live progress
    with chaostoolkit_log(inputs.plan.run_dir / "chaos" / "chaostoolkit.log"):
        run_chaos_timeline(inputs)


@dataclass(frozen=True)
class CampaignParts:
    """Everything a run reaches outside itself; the defaults are the real ones."""

    check_warmup: Callable[[WarmupBackends], list[CheckResult]] = check_warmup
    read_part_versions: Callable[[WarmupBackends, Target], dict[str, dict[str, Any]]] = (
        read_part_versions
    )
    chaosgate_build: Callable[[], ChaosgateBuild] = chaosgate_build  # runs git
    read_alerting: Callable[[WarmupBackends], AlertingSetup] = read_alerting
    watch_alerts: Callable[[WarmupBackends], AlertWatcher] = _watch_alerts  # started
    start_load: Callable[[RunPlan], RunningLoad] = _start_load  # Locust, in its own group
    start_probe: Callable[[RunPlan, WarmupBackends], LagProbe] = _start_probes  # started
    chaos_phase: ChaosPhase = _chaos_phase
    judge: Callable[[FinishedRun, Recorder], None] = judge_run
    clock: Clock = time.time


REAL_PARTS = CampaignParts()
