"""The judging phase of a run, once the load has ended: every check, in the order it is shown.

Traces and logs first (the live ingest lag, then completeness, then any log flood's
``logs.flood``), then the expected alerts of
each experiment, then the run-level alerting checks (noise, inhibition, grouping,
de-duplication, quality, coverage), then the SLOs. Each check function turns a backend's
failure into an error result (:mod:`chaosgate.run.judging`, :mod:`chaosgate.run.alert_judging`);
:func:`judge_run` hands each batch to ``record`` as soon as it is judged, so the progress shows
it while the next one is polled. Without a load (a faults-only replay) the checks of the load's
requests are left out, and the progress says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from assertions.checks.alert_watcher import AlertWatcher
from assertions.checks.warmup import WarmupBackends
from assertions.result import CheckResult
from chaosgate.run.alert_judging import (
    AlertingSetup,
    alerting_figures,
    experiment_checks,
    run_alert_checks,
)
from chaosgate.run.chaos_phase import ExperimentRun
from chaosgate.run.flood_judging import log_flood_checks
from chaosgate.run.judging import completeness_checks, slo_checks
from chaosgate.run.progress import Progress
from chaosgate.run.run_plan import RunPlan
from chaosgate.vocabulary import Clock, FaultWindow, LedgerEntry

__all__ = ["FinishedRun", "LagProbe", "Recorder", "judge_run"]

Recorder = Callable[[Sequence[CheckResult]], None]  # takes each batch of results as it comes


class LagProbe(Protocol):
    """What the run asks of its live ingest-lag probe
    (:class:`~assertions.checks.ingest_lag.IngestLagProbe`)."""

    def stop(self, timeout_s: float = ...) -> None: ...

    def drain(self) -> None: ...

    def results(
        self,
        *,
        traces_deadline_s: float,
        logs_deadline_s: float,
        fault_windows: Sequence[FaultWindow],
    ) -> list[CheckResult]: ...


@dataclass(frozen=True)
class FinishedRun:
    """What the judges need of a run whose load and chaos phase have ended."""

    plan: RunPlan
    backends: WarmupBackends
    progress: Progress
    alerting: AlertingSetup  # read before the load, as the run started
    watcher: AlertWatcher
    probe: LagProbe | None  # None: no load ran
    experiment_runs: Sequence[ExperimentRun]
    checks: Sequence[CheckResult]  # judged so far (the coverage check reads them)
    entries: Sequence[LedgerEntry]
    windows: Sequence[FaultWindow]
    load_started: float
    load_ended: float
    clock: Clock


def judge_run(run: FinishedRun, record: Recorder) -> None:
    """Every check of a finished run, each batch handed to ``record`` when judged."""
    plan, progress, backends = run.plan, run.progress, run.backends
    deadlines = plan.target.deadlines
    if run.probe is None:
        progress.info("no load ran: ingest-lag, completeness and SLO checks left out")
    else:
        progress.step("checks: traces in Jaeger, logs in Elasticsearch")
        record(
            run.probe.results(
                traces_deadline_s=deadlines.traces_s,
                logs_deadline_s=deadlines.logs_s,
                fault_windows=run.windows,
            )
        )
        record(completeness_checks(plan, run.entries, run.windows, backends, progress=progress))
    floods = log_flood_checks(run.experiment_runs)
    if floods:
        progress.step("checks: log floods through the shipper into the store")
        record(floods)

    progress.step("checks: expected alerts, notifications per receiver, resolution")
    readable = plan.target.sink.receivers
    for experiment in run.experiment_runs:
        record(experiment_checks(experiment, run.watcher, backends, run.alerting, readable))
    run.watcher.stop()
    progress.step("checks: noise, inhibition, grouping, de-duplication, quality, coverage")
    run_level = run_alert_checks(
        run.experiment_runs,
        run.checks,
        run.watcher,
        backends,
        run.alerting,
        plan.profile,
        run.windows,
        (run.load_started, run.clock()),
    )
    record(run_level)
    for line in alerting_figures(run_level):
        progress.info(line)

    if plan.with_load:
        progress.step("checks: SLOs inside and outside fault windows")
        keeps_slo = frozenset(e.path.stem for e in run.experiment_runs if e.keeps_slo)
        record(
            slo_checks(
                plan,
                run.entries,
                run.windows,
                backends,
                run.load_started,
                run.load_ended,
                keeps_slo,
            )
        )
