"""One verification run: warm-up gate, load + chaos timeline together, assertions, reports.

Observations never raise once the run has started: a backend that fails becomes a check with
status ``error``. The exit code is the verdict: 0 pass, 1 a check failed or errored,
3 the target was not healthy enough to test, 130 / 143 interrupted by SIGINT / SIGTERM (the
load stopped, every fault undone, the reports written; see :mod:`chaosgate.run.interrupts`).
Every fault is written to the target's fault ledger before it is injected
(:mod:`chaosgate.faults`). The phases live in their own modules:
:mod:`chaosgate.run.chaos_phase` (experiments beside the load), :mod:`chaosgate.run.judging`
(alerts, completeness, SLOs) and :mod:`chaosgate.run.reports`.

A replay's plan (:mod:`chaosgate.run.replay`) may leave the load out (``with_load`` False,
``--faults-only``): the faults then play at their offsets from the moment the load would have
started, and the checks that judge the load's requests (ingest lag, completeness, SLOs) are
not run, since there are no requests to judge; the progress says so and summary.json's
``load`` names it (``no_load``). Everything else (the alerts, their notifications and
resolution, the noise) is judged as in any run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from assertions.checks.alert_watcher import AlertWatcher
from assertions.checks.ingest_lag import IngestLagProbe
from assertions.checks.warmup import WarmupBackends, check_warmup
from assertions.result import CheckResult, Status
from chaosgate.chaos.timeline import Timeline
from chaosgate.faults.recorder import RunFaults
from chaosgate.faults.undo import undo_entry
from chaosgate.request_ledger import LedgerTail, read_ledger
from chaosgate.run.alert_judging import (
    alerting_figures,
    experiment_checks,
    read_alerting,
    run_alert_checks,
)
from chaosgate.run.chaos_phase import (
    ExperimentRun,
    chaos_environment,
    chaostoolkit_log,
    run_chaos_timeline,
)
from chaosgate.run.interrupts import Interrupts, RunInterrupted
from chaosgate.run.judging import completeness_checks, slo_checks
from chaosgate.run.load import LoadProcess, LoadResult, start_load
from chaosgate.run.load_progress import LoadProgress
from chaosgate.run.part_versions import ChaosgateBuild, chaosgate_build, read_part_versions
from chaosgate.run.progress import Progress
from chaosgate.run.reports import write_reports
from chaosgate.run.run_plan import RunOutcome, RunPlan
from chaosgate.run.run_record import ExperimentCopy, build_replay_record, copy_experiments
from chaosgate.vocabulary import EXIT_FAILED, EXIT_OK, EXIT_UNHEALTHY, LedgerEntry

__all__ = [
    "RunOutcome",
    "RunPlan",
    "run_campaign",
]

LOAD_STOP_GRACE_S = 2.0  # Locust's own stop, then SIGKILL: an interrupted run ends within 7 s


def _verdict(checks: Sequence[CheckResult]) -> tuple[int, str]:
    return (EXIT_OK, "passed") if all(c.passed for c in checks) else (EXIT_FAILED, "failed")


@dataclass
class _Live:
    """What a run has started, so that an interrupted run can stop it."""

    load: LoadProcess | None = None
    load_view: LoadProgress | None = None  # the load's live figures (a bar, or lines in CI)
    probe: IngestLagProbe | None = None
    watcher: AlertWatcher | None = None
    load_started: float | None = None
    experiment_runs: list[ExperimentRun] = field(default_factory=list)
    experiment_copies: tuple[ExperimentCopy, ...] = ()
    build: ChaosgateBuild | None = None
    part_versions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def replay(self, plan: RunPlan, timeline: Timeline) -> dict[str, Any]:
        """summary.json's ``replay`` section: what a replay of this run needs."""
        return build_replay_record(
            plan,
            self.experiment_copies,
            timeline.experiment_spans(),
            self.load_started,
            chaosgate=self.build or chaosgate_build(),
            parts=self.part_versions,
        ).as_json()


def run_campaign(
    plan: RunPlan,
    backends: WarmupBackends,
    *,
    progress: Progress,
    faults: RunFaults,
    interrupts: Interrupts,
    on_check: Callable[[CheckResult], None] | None = None,
) -> RunOutcome:
    """The run, start to verdict; SIGINT / SIGTERM (``interrupts`` installed by the caller)
    end it early through :func:`_interrupted`."""
    started = time.time()
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    timeline = Timeline()
    checks: list[CheckResult] = []
    # the experiments as they ran, kept in the run folder for a replay, before anything starts
    live = _Live(experiment_copies=copy_experiments(plan), build=chaosgate_build())

    def record(results: Sequence[CheckResult]) -> None:
        for result in results:
            checks.append(result)
            progress.check(result)
            if on_check is not None:
                on_check(result)

    try:
        return _campaign(plan, backends, progress, faults, interrupts, timeline, record, live,
                         checks, started)  # fmt: skip
    except RunInterrupted:
        return _interrupted(plan, progress, faults, interrupts, timeline, live, checks, started)
    finally:
        if live.load_view is not None:  # idempotent, never raises: gone whatever ended the run
            live.load_view.stop()


def _interrupted(
    plan: RunPlan,
    progress: Progress,
    faults: RunFaults,
    interrupts: Interrupts,
    timeline: Timeline,
    live: _Live,
    checks: list[CheckResult],
    started: float,
) -> RunOutcome:
    """Stop the load, make sure every fault of this run is undone, and say so in the reports.
    The verdict is ``interrupted``, the exit code 130 (SIGINT) or 143 (SIGTERM); no check is
    judged after the signal (a verdict from half a run would be a guess)."""
    name = interrupts.signal_name
    if live.load_view is not None:
        live.load_view.stop()  # its closing line: the load's figures up to the signal
    progress.step(f"interrupted by {name} during {progress.last_step or 'the start'}: "
                  "undoing faults, stopping the load")  # fmt: skip
    load_summary: dict[str, Any] = {}
    if live.load is not None:
        result = live.load.end(grace_s=LOAD_STOP_GRACE_S)
        load_summary = {"locust_exit_code": result.exit_code, "started_at": live.load_started,
                        "ended_at": time.time()}  # fmt: skip
        faults.settle_load(undone=not live.load.running())
    for part in (live.probe, live.watcher):
        if part is not None:
            part.stop(timeout_s=0.5)
    for entry in faults.pending():  # an experiment the signal cut off before its rollbacks
        if entry.kind == "experiment":
            undone = undo_entry(entry, lambda: chaos_environment(plan.target))
            faults.settle(entry, undone=undone.undone, detail="; ".join(undone.lines))
    left = faults.pending()
    undone_titles = [e.title for e in faults.entries() if e.state == "undone"]
    reason = (
        f"interrupted by {name} at +{(interrupts.at or time.time()) - started:.1f} s during "
        f"{progress.last_step or 'the start'}; undone: {', '.join(undone_titles) or 'nothing'}"
    )
    if left:
        reason += f"; NOT undone (run `chaosgate cleanup`): {', '.join(e.title for e in left)}"
    checks.append(CheckResult("run.interrupted", Status.ERROR, "the run completes", name,
                              reason=reason))  # fmt: skip
    progress.check(checks[-1])
    code = interrupts.exit_code or EXIT_FAILED
    path = write_reports(plan, checks, timeline, started, code, "interrupted", load_summary,
                         faults=faults.as_json(), replay=live.replay(plan, timeline))  # fmt: skip
    faults.forget_undone()
    return RunOutcome(code, "interrupted", path, tuple(checks))


def _campaign(
    plan: RunPlan,
    backends: WarmupBackends,
    progress: Progress,
    faults: RunFaults,
    interrupts: Interrupts,
    timeline: Timeline,
    record: Callable[[Sequence[CheckResult]], None],
    live: _Live,
    checks: list[CheckResult],
    started: float,
) -> RunOutcome:
    progress.step(f"warm-up: is {plan.target.name!r} healthy enough to test?")
    record(check_warmup(backends))
    live.part_versions = read_part_versions(backends, plan.target)  # evidence, never a failure
    if not all(c.passed for c in checks):
        with interrupts.protected():
            path = write_reports(plan, checks, timeline, started, EXIT_UNHEALTHY, "unhealthy",
                                 {}, faults=faults.as_json(),
                                 replay=live.replay(plan, timeline))  # fmt: skip
        return RunOutcome(EXIT_UNHEALTHY, "unhealthy", path, tuple(checks))

    profile = plan.profile
    alerting = read_alerting(backends)
    watcher = live.watcher = AlertWatcher(backends.alertmanager).start()
    progress.step(
        f"load: {profile.users} users for {profile.duration_s} s ({', '.join(profile.scenarios)})"
        if plan.with_load
        else f"no load (faults only): their offsets count from now, for {profile.duration_s} s"
    )
    with interrupts.protected():
        load_started = live.load_started = time.time()
        if plan.with_load:
            load = live.load = start_load(
                profile, plan.target.gateway_url, plan.run_dir, run_id=plan.run_id, web=plan.web
            )
            interrupts.on_signal(lambda _signum: load.stop())
            faults.record_load(load.pid)
            live.load_view = LoadProgress(
                progress, plan.run_dir / "ledger", profile.duration_s
            ).start()
    if live.load is not None and live.load.web_url:
        progress.info(f"Locust's web UI: {live.load.web_url} (stats, charts, stop or steer)")
    deadlines = plan.target.deadlines
    if plan.with_load:
        live.probe = IngestLagProbe(
            LedgerTail(plan.run_dir / "ledger"),
            jaeger=backends.jaeger,
            elasticsearch=backends.elasticsearch,
            trace_id_field=plan.target.elasticsearch.trace_id_field,
            traces_deadline_s=deadlines.traces_s,
            logs_deadline_s=deadlines.logs_s,
            seed=profile.seed,
        ).start()
    probe = live.probe
    experiment_runs = live.experiment_runs
    # without a load (faults only), the chaos phase runs for as long as the load would have
    load_running = (
        live.load.running if live.load is not None else _until(load_started + profile.duration_s)
    )
    # chaoslib must run on the main thread (it installs signal handlers); Locust is a
    # separate process, so the load goes on while the experiments run here
    with chaostoolkit_log(plan.run_dir / "chaos" / "chaostoolkit.log"):
        run_chaos_timeline(plan, timeline, progress, load_running, experiment_runs,
                           faults=faults, interrupts=interrupts,
                           load_started=load_started)  # fmt: skip
    interrupts.check()
    entries, load_summary, load_ended = _finish_load(plan, live, faults, progress, record)

    # the fault windows, once: from inject to rollback (or the end of the load)
    windows = [w for run in experiment_runs if (w := run.fault_window(load_ended)) is not None]
    if probe is None:
        progress.info("no load ran: ingest-lag, completeness and SLO checks left out")
    else:
        progress.step("checks: traces in Jaeger, logs in Elasticsearch")
        record(
            probe.results(
                traces_deadline_s=deadlines.traces_s,
                logs_deadline_s=deadlines.logs_s,
                fault_windows=windows,
            )
        )
        record(completeness_checks(plan, entries, windows, backends, progress=progress))

    progress.step("checks: expected alerts, notifications per receiver, resolution")
    readable = plan.target.sink.receivers
    for run in experiment_runs:
        record(experiment_checks(run, watcher, backends, alerting, readable))
    watcher.stop()
    progress.step("checks: noise, inhibition, grouping, de-duplication, quality, coverage")
    run_level = run_alert_checks(
        experiment_runs,
        checks,
        watcher,
        backends,
        alerting,
        profile,
        windows,
        (load_started, time.time()),
    )
    record(run_level)
    for line in alerting_figures(run_level):
        progress.info(line)

    if plan.with_load:
        progress.step("checks: SLOs inside and outside fault windows")
        keeps_slo = frozenset(run.path.stem for run in experiment_runs if run.keeps_slo)
        record(slo_checks(plan, entries, windows, backends, load_started, load_ended, keeps_slo))

    exit_code, verdict = _verdict(checks)
    with interrupts.protected():
        path = write_reports(plan, checks, timeline, started, exit_code, verdict, load_summary,
                             faults=faults.as_json(),
                             replay=live.replay(plan, timeline))  # fmt: skip
        faults.forget_undone()
    return RunOutcome(exit_code, verdict, path, tuple(checks))


def _until(moment: float) -> Callable[[], bool]:
    """What stands for "the load runs" when there is none: true until ``moment``."""
    return lambda: time.time() < moment


def _finish_load(
    plan: RunPlan,
    live: _Live,
    faults: RunFaults,
    progress: Progress,
    record: Callable[[Sequence[CheckResult]], None],
) -> tuple[list[LedgerEntry], dict[str, Any], float]:
    """Wait for the load's end and read its ledger: the entries, summary.json's ``load`` and
    when it ended. Without a load (a faults-only replay): no entries, and ``load`` says so."""
    load, probe = live.load, live.probe
    if load is None:
        ended = time.time()
        summary = {"requests": 0, "no_load": "faults only: no load ran"}
        return [], {**summary, "started_at": live.load_started, "ended_at": ended}, ended
    load_result: LoadResult = load.wait(timeout_s=plan.profile.duration_s + 120)
    load_ended = time.time()
    if live.load_view is not None:
        live.load_view.stop()  # its closing line: the whole load's figures
    faults.settle_load(undone=not load.running())
    progress.step(f"load finished (locust exit {load_result.exit_code})")
    if probe is not None:
        probe.stop()
        probe.drain()
    entries = read_ledger(plan.run_dir / "ledger")
    statuses = [e.status for e in entries]
    load_summary = {
        "requests": len(entries),
        "responses_5xx": sum(1 for s in statuses if s >= 500),
        "no_response": sum(1 for s in statuses if s == 0),
        "locust_exit_code": load_result.exit_code,
        "started_at": live.load_started,
        "ended_at": load_ended,
    }
    progress.info(f"ledger: {len(entries)} requests")
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
