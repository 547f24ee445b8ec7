"""What a run has started, kept so that however the run ends, all of it is stopped.

:class:`LiveParts` holds the load, its live view, the ingest-lag probe and the alert watcher
as they are started, and what summary.json's ``replay`` section needs.
:meth:`LiveParts.stop` ends whatever of them still runs: the campaign calls it in a
``finally``, so neither a signal nor an exception leaves a Locust process or a polling thread
behind. :func:`finish_load` is the ordinary end of the load: wait for it, read its ledger.

:func:`with_query_latency` makes a run's live probe time Jaeger's queries too
(``traces.query_latency``): the probe it starts is :class:`LiveProbes`, the ingest-lag probe
and a :class:`~assertions.checks.query_latency.QueryLatencyProbe` stopped, drained and judged
as one, so the run's flow is unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assertions.checks.alert_watcher import AlertWatcher
from assertions.checks.query_latency import QueryLatencyProbe
from assertions.checks.warmup import WarmupBackends
from assertions.result import CheckResult, Status
from chaosgate.chaos.timeline import Timeline
from chaosgate.faults.recorder import RunFaults
from chaosgate.request_ledger import LedgerTail, read_ledger
from chaosgate.run.backends import jaeger_queries_of
from chaosgate.run.chaos_phase import ExperimentRun
from chaosgate.run.judge_phase import LagProbe, Recorder
from chaosgate.run.load_progress import LoadProgress
from chaosgate.run.load_workers import workers_check
from chaosgate.run.part_versions import ChaosgateBuild
from chaosgate.run.progress import Progress
from chaosgate.run.run_plan import RunPlan
from chaosgate.run.run_record import ExperimentCopy, build_replay_record
from chaosgate.vocabulary import Clock, FaultWindow, LedgerEntry

if TYPE_CHECKING:  # campaign_parts imports this module (with_query_latency)
    from chaosgate.run.campaign_parts import RunningLoad

__all__ = ["LOAD_STOP_GRACE_S", "LiveParts", "LiveProbes", "finish_load", "with_query_latency"]

LOAD_STOP_GRACE_S = 2.0  # Locust's own stop, then SIGKILL: an interrupted run ends within 7 s
LOAD_WAIT_SLACK_S = 120  # past the profile's duration, a load that still runs is stopped


@dataclass
class LiveParts:
    """What a run has started (None until it is), and what its replay record needs."""

    build: ChaosgateBuild
    experiment_copies: tuple[ExperimentCopy, ...] = ()
    load: RunningLoad | None = None
    load_view: LoadProgress | None = None  # the load's live figures (a bar, or lines in CI)
    probe: LagProbe | None = None
    watcher: AlertWatcher | None = None
    load_started: float | None = None
    experiment_runs: list[ExperimentRun] = field(default_factory=list)
    part_versions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def replay(self, plan: RunPlan, timeline: Timeline) -> dict[str, Any]:
        """summary.json's ``replay`` section: what a replay of this run needs."""
        return build_replay_record(
            plan,
            self.experiment_copies,
            timeline.experiment_spans(),
            self.load_started,
            chaosgate=self.build,
            parts=self.part_versions,
        ).as_json()

    def stop(self, faults: RunFaults, *, probe_timeout_s: float = 0.5) -> list[str]:
        """Stop whatever still runs: the load (SIGTERM, SIGKILL to its group after
        :data:`LOAD_STOP_GRACE_S`; its fault-ledger entry settled), its live view, the probe
        and the watcher. Idempotent, and never raises: each part is stopped even when another
        could not be; the problems come back, one line each."""
        problems: list[str] = []

        def attempt(what: str, stop: Callable[[], object]) -> None:
            try:
                stop()
            except Exception as exc:
                problems.append(f"{what} could not be stopped: {type(exc).__name__}: {exc}")

        load, view, probe, watcher = self.load, self.load_view, self.probe, self.watcher
        if load is not None:
            attempt("the load", lambda: _end_load(load, faults))
        if view is not None:
            attempt("the load's live view", view.stop)
        if probe is not None:
            attempt("the ingest-lag probe", lambda: probe.stop(timeout_s=probe_timeout_s))
        if watcher is not None:
            attempt("the alert watcher", lambda: watcher.stop(timeout_s=probe_timeout_s))
        return problems


def _end_load(load: RunningLoad, faults: RunFaults) -> None:
    """End a load that still runs, and settle its fault-ledger entry (also when the load
    ended by itself: a signal's callback told it to stop, and it did)."""
    if load.running():
        load.end(grace_s=LOAD_STOP_GRACE_S)
    faults.settle_load(undone=not load.running())


def finish_load(
    plan: RunPlan,
    live: LiveParts,
    faults: RunFaults,
    progress: Progress,
    record: Recorder,
    clock: Clock,
) -> tuple[list[LedgerEntry], dict[str, Any], float]:
    """Wait for the load's end and read its ledger: the entries, summary.json's ``load`` and
    when it ended. Without a load (a faults-only replay): no entries, and ``load`` says so."""
    load, probe = live.load, live.probe
    if load is None:
        ended = clock()
        summary = {"requests": 0, "no_load": "faults only: no load ran"}
        return [], {**summary, "started_at": live.load_started, "ended_at": ended}, ended
    load_result = load.wait(timeout_s=plan.profile.duration_s + LOAD_WAIT_SLACK_S)
    load_ended = clock()
    if live.load_view is not None:
        live.load_view.stop()  # its closing line: the whole load's figures
    faults.settle_load(undone=not load.running())
    progress.step(f"load finished (locust exit {load_result.exit_code})")
    if probe is not None:
        probe.stop()
        probe.drain()
    entries = read_ledger(plan.run_dir / "ledger")
    statuses = [e.status for e in entries]
    load_summary: dict[str, Any] = {
        "requests": len(entries),
        "responses_5xx": sum(1 for s in statuses if s >= 500),
        "no_response": sum(1 for s in statuses if s == 0),
        "locust_exit_code": load_result.exit_code,
        "started_at": live.load_started,
        "ended_at": load_ended,
    }
    progress.info(f"ledger: {len(entries)} requests")
    workers = workers_check(load_result.workers)
    if workers is not None:  # a distributed load: did every worker's entries arrive?
        load_summary["workers"] = {
            "lost_workers": list(load_result.lost_workers),
            "missing_entries": load_result.missing_entries,
        }
        record([workers])
    if not entries:
        record(
            [
                CheckResult(
                    "load.ledger",
                    Status.ERROR,
                    "requests recorded",
                    0,
                    reason=f"the load recorded no request; see {load_result.log}",
                )
            ]
        )
    return entries, load_summary, load_ended


class LiveProbes:
    """The ingest-lag probe and the query-latency probe as the one live probe of a run:
    stopped together; :meth:`drain` drains the first and then times Jaeger's queries after the
    load; :meth:`results` adds ``traces.query_latency`` to the ingest-lag results."""

    def __init__(
        self,
        lag: LagProbe,
        latency: QueryLatencyProbe,
        *,
        bound_s: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._lag = lag
        self._latency = latency
        self._bound_s = bound_s
        self._sleep = sleep

    @property
    def latency(self) -> QueryLatencyProbe:
        return self._latency

    def stop(self, timeout_s: float = 10.0) -> None:
        try:
            self._lag.stop(timeout_s=timeout_s)
        finally:
            self._latency.stop(timeout_s=timeout_s)

    def drain(self) -> None:
        self._lag.drain()
        self._latency.measure_after(self._sleep)

    def results(
        self,
        *,
        traces_deadline_s: float,
        logs_deadline_s: float,
        fault_windows: Sequence[FaultWindow],
    ) -> list[CheckResult]:
        lag = self._lag.results(
            traces_deadline_s=traces_deadline_s,
            logs_deadline_s=logs_deadline_s,
            fault_windows=fault_windows,
        )
        return [*lag, self._latency.result(self._bound_s, fault_windows)]


def with_query_latency(
    start_probe: Callable[[RunPlan, WarmupBackends], LagProbe],
    *,
    clock: Clock = time.time,
    sleep: Callable[[float], None] = time.sleep,
    timer: Callable[[], float] = time.perf_counter,
    interval_s: float = 2.0,
    after_rounds: int = 5,
    after_interval_s: float = 0.5,
) -> Callable[[RunPlan, WarmupBackends], LagProbe]:
    """``start_probe``, with a query-latency probe started beside the probe it starts: Jaeger's
    trace queries timed every ``interval_s`` while the load runs and ``after_rounds`` times
    (``after_interval_s`` apart) once it has ended, judged outside the fault windows against
    ``jaeger.query_latency_bound_s``."""

    def start(plan: RunPlan, backends: WarmupBackends) -> LagProbe:
        lag = start_probe(plan, backends)
        queries = jaeger_queries_of(backends)
        if queries is None:
            return lag  # backends that carry no Jaeger queries (a test's): nothing to time
        latency = QueryLatencyProbe(
            queries,
            LedgerTail(plan.run_dir / "ledger"),
            window_start=clock(),
            interval_s=interval_s,
            after_rounds=after_rounds,
            after_interval_s=after_interval_s,
            seed=plan.profile.seed,
            clock=clock,
            timer=timer,
        )
        try:
            latency.start()
        except Exception:
            lag.stop()
            raise
        return LiveProbes(
            lag, latency, bound_s=plan.target.jaeger.query_latency_bound_s, sleep=sleep
        )

    return start
