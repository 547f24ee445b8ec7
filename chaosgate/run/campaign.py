"""One verification run: warm-up gate, load + chaos timeline together, assertions, reports.

Observations never raise once the run has started: a backend that fails becomes a check with
status ``error``. The exit code is the verdict: 0 pass, 1 a check failed or errored,
3 the target was not healthy enough to test, 130 / 143 interrupted by SIGINT / SIGTERM (the
load stopped, every fault undone, the reports written; see :mod:`chaosgate.run.interrupts`).
Every fault is written to the target's fault ledger before it is injected
(:mod:`chaosgate.faults`). The phases live in their own modules:
:mod:`chaosgate.run.chaos_phase` (experiments beside the load), :mod:`chaosgate.run.judge_phase`
(traces, logs, alerts, SLOs, in order) and :mod:`chaosgate.run.reports`; what the run starts
and asks outside itself comes in as :class:`~chaosgate.run.campaign_parts.CampaignParts`.

Whatever ends the run, everything it started (the alert watcher, Locust, the ingest-lag probe,
the load's live view) is stopped in a ``finally`` (``LiveParts.stop``,
:mod:`chaosgate.run.live_parts`). An exception that escapes a phase after the warm-up (a bug,
or a failure no check turned into a result) does not lose the run either: everything started
is stopped, every fault of the run undone, and the reports are written with the checks judged
so far plus ``run.error`` (status error: the exception and the step it cut short, its
traceback in the evidence). The verdict is ``failed``, exit 1, and the exception is not
re-raised: the run's folder and its exit code tell what happened, as for any failed gate, and
the CLI prints the verdict as usual. Before the warm-up has passed nothing has been started
and nothing judged, so an exception there propagates as it is.

A replay's plan (:mod:`chaosgate.run.replay`) may leave the load out (``with_load`` False,
``--faults-only``): the faults then play at their offsets from the moment the load would have
started, and the checks that judge the load's requests (ingest lag, completeness, SLOs) are
not run, since there are no requests to judge; the progress says so and summary.json's
``load`` names it (``no_load``). Everything else (the alerts, their notifications and
resolution, the noise) is judged as in any run.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assertions.checks.warmup import WarmupBackends
from assertions.result import CheckResult, Status
from chaosgate.chaos.timeline import Timeline
from chaosgate.faults.recorder import RunFaults
from chaosgate.faults.undo import undo_entry
from chaosgate.run.campaign_parts import REAL_PARTS, CampaignParts
from chaosgate.run.chaos_phase import ChaosPhaseInputs, chaos_environment
from chaosgate.run.interrupts import Interrupts, RunInterrupted
from chaosgate.run.judge_phase import FinishedRun
from chaosgate.run.live_parts import LOAD_STOP_GRACE_S, LiveParts, finish_load
from chaosgate.run.load_progress import LoadProgress
from chaosgate.run.progress import Progress
from chaosgate.run.reports import write_reports
from chaosgate.run.run_plan import RunOutcome, RunPlan
from chaosgate.run.run_record import copy_experiments
from chaosgate.run.team_checks import collect_team_checks, run_team_checks
from chaosgate.vocabulary import EXIT_FAILED, EXIT_OK, EXIT_UNHEALTHY, Clock

__all__ = ["RunOutcome", "RunPlan", "run_campaign"]

MAX_TRACEBACK_CHARS = 8000  # run.error's evidence: the end of the traceback, where it raised


def _verdict(checks: Sequence[CheckResult]) -> tuple[int, str]:
    return (EXIT_OK, "passed") if all(c.passed for c in checks) else (EXIT_FAILED, "failed")


@dataclass
class _Run:
    """One run's state, shared by its phases."""

    plan: RunPlan
    backends: WarmupBackends
    progress: Progress
    faults: RunFaults
    interrupts: Interrupts
    parts: CampaignParts
    live: LiveParts
    started: float
    on_check: Callable[[CheckResult], None] | None
    timeline: Timeline = field(default_factory=Timeline)
    checks: list[CheckResult] = field(default_factory=list)
    warmed_up: bool = False  # the warm-up passed: from here on an exception is reported
    load_summary: dict[str, Any] | None = None  # summary.json's ``load``, once it has ended

    def record(self, results: Sequence[CheckResult]) -> None:
        for result in results:
            self.checks.append(result)
            self.progress.check(result)
            if self.on_check is not None:
                self.on_check(result)

    def write(self, exit_code: int, verdict: str, load: dict[str, Any]) -> Path:
        """Every report of the run as it stands; the path of summary.json."""
        return write_reports(self.plan, self.checks, self.timeline, self.started, exit_code,
                             verdict, load, faults=self.faults.as_json(),
                             replay=self.live.replay(self.plan, self.timeline))  # fmt: skip


def run_campaign(
    plan: RunPlan,
    backends: WarmupBackends,
    *,
    progress: Progress,
    faults: RunFaults,
    interrupts: Interrupts,
    on_check: Callable[[CheckResult], None] | None = None,
    parts: CampaignParts = REAL_PARTS,
) -> RunOutcome:
    """The run, start to verdict; SIGINT / SIGTERM (``interrupts`` installed by the caller)
    end it early through :func:`_interrupted`, an exception after the warm-up through
    :func:`_errored`."""
    started = parts.clock()
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    # the experiments as they ran, kept in the run folder for a replay, before anything starts
    live = LiveParts(build=parts.chaosgate_build(), experiment_copies=copy_experiments(plan))
    run = _Run(plan, backends, progress, faults, interrupts, parts, live, started, on_check)
    try:
        return _campaign(run)
    except RunInterrupted:
        return _interrupted(run)
    except Exception as exc:
        if not run.warmed_up:
            raise
        return _errored(run, exc)
    finally:
        for line in live.stop(faults):  # idempotent, never raises: gone however the run ended
            progress.info(line)


def _undo_pending(run: _Run) -> str:
    """Undo every experiment of this run still pending in its fault ledger (one the run was
    cut off in before its rollbacks); what was and was not undone, for a check's reason."""
    faults = run.faults
    for entry in faults.pending():
        if entry.kind == "experiment":
            undone = undo_entry(entry, lambda: chaos_environment(run.plan.target))
            faults.settle(entry, undone=undone.undone, detail="; ".join(undone.lines))
    left = faults.pending()
    undone_titles = [e.title for e in faults.entries() if e.state == "undone"]
    summary = f"undone: {', '.join(undone_titles) or 'nothing'}"
    if left:
        summary += f"; NOT undone (run `chaosgate cleanup`): {', '.join(e.title for e in left)}"
    return summary


def _load_summary(run: _Run) -> dict[str, Any]:
    """summary.json's ``load`` when the run was cut short: the load stopped first if it
    still ran; as it ended when it had ended already. Either way its fault-ledger entry is
    settled: a load that has stopped is undone."""
    live, load = run.live, run.live.load
    if run.load_summary is not None:
        return run.load_summary
    if load is None:
        return {}
    # ended already (the signal's callback stopped it, or it had run its time): as it ended
    result = load.end(grace_s=LOAD_STOP_GRACE_S) if load.running() else load.wait(timeout_s=0)
    run.faults.settle_load(undone=not load.running())
    return {"locust_exit_code": result.exit_code, "started_at": live.load_started,
            "ended_at": run.parts.clock()}  # fmt: skip


def _interrupted(run: _Run) -> RunOutcome:
    """Stop the load, make sure every fault of this run is undone, and say so in the reports.
    The verdict is ``interrupted``, the exit code 130 (SIGINT) or 143 (SIGTERM); no check is
    judged after the signal (a verdict from half a run would be a guess)."""
    progress, interrupts, live = run.progress, run.interrupts, run.live
    name = interrupts.signal_name
    if live.load_view is not None:
        live.load_view.stop()  # its closing line: the load's figures up to the signal
    progress.step(f"interrupted by {name} during {progress.last_step or 'the start'}: "
                  "undoing faults, stopping the load")  # fmt: skip
    load_summary = _load_summary(run)
    live.stop(run.faults)
    at = (interrupts.at or run.parts.clock()) - run.started
    reason = (
        f"interrupted by {name} at +{at:.1f} s during {progress.last_step or 'the start'}; "
        + _undo_pending(run)
    )
    run.record([CheckResult("run.interrupted", Status.ERROR, "the run completes", name,
                            reason=reason)])  # fmt: skip
    code = interrupts.exit_code or EXIT_FAILED
    path = run.write(code, "interrupted", load_summary)
    run.faults.forget_undone()
    return RunOutcome(code, "interrupted", path, tuple(run.checks))


def _errored(run: _Run, exc: Exception) -> RunOutcome:
    """An exception escaped a phase after the warm-up: stop everything, undo this run's
    faults, and report the checks judged so far with ``run.error``; verdict ``failed``,
    exit 1 (see the module's docstring). A signal meanwhile waits until the reports are
    written, and then changes nothing: the run has failed already."""
    step = run.progress.last_step or "the start"
    with suppress(RunInterrupted), run.interrupts.protected():
        load_summary = _load_summary(run)
        problems = run.live.stop(run.faults)
        reason = (
            f"chaosgate stopped the run during {step}: {type(exc).__name__}: {exc}"[:500]
            + " (a bug in chaosgate or a failure it does not handle; please report it); "
            + _undo_pending(run)
        )
        evidence = {
            "traceback": "".join(traceback.format_exception(exc))[-MAX_TRACEBACK_CHARS:],
            "not_stopped": problems,
        }
        run.record([CheckResult("run.error", Status.ERROR, "the run completes",
                                type(exc).__name__, reason=reason,
                                evidence=evidence)])  # fmt: skip
        path = run.write(EXIT_FAILED, "failed", load_summary)
        run.faults.forget_undone()
    return RunOutcome(EXIT_FAILED, "failed", path, tuple(run.checks))


def _campaign(run: _Run) -> RunOutcome:
    plan, backends, progress, parts = run.plan, run.backends, run.progress, run.parts
    faults, interrupts, live = run.faults, run.interrupts, run.live
    progress.step(f"warm-up: is {plan.target.name!r} healthy enough to test?")
    run.record(parts.check_warmup(backends))
    live.part_versions = parts.read_part_versions(backends, plan.target)  # evidence only
    if not all(c.passed for c in run.checks):
        with interrupts.protected():
            path = run.write(EXIT_UNHEALTHY, "unhealthy", {})
        return RunOutcome(EXIT_UNHEALTHY, "unhealthy", path, tuple(run.checks))
    run.warmed_up = True

    profile = plan.profile
    alerting = parts.read_alerting(backends)
    watcher = live.watcher = parts.watch_alerts(backends)
    progress.step(
        f"load: {profile.users} users for {profile.duration_s} s ({', '.join(profile.scenarios)})"
        if plan.with_load
        else f"no load (faults only): their offsets count from now, for {profile.duration_s} s"
    )
    with interrupts.protected():
        load_started = live.load_started = parts.clock()
        if plan.with_load:
            load = live.load = parts.start_load(plan)
            interrupts.on_signal(lambda _signum: load.stop())
            faults.record_load(load.pid)
            live.load_view = LoadProgress(
                progress, plan.run_dir / "ledger", profile.duration_s
            ).start()
    if live.load is not None and live.load.web_url:
        progress.info(f"Locust's web UI: {live.load.web_url} (stats, charts, stop or steer)")
    if plan.with_load:
        live.probe = parts.start_probe(plan, backends)
    # without a load (faults only), the chaos phase runs for as long as the load would have
    load_running = (
        live.load.running
        if live.load is not None
        else _until(load_started + profile.duration_s, parts.clock)
    )
    # chaoslib must run on the main thread (it installs signal handlers); Locust is a
    # separate process, so the load goes on while the experiments run here
    parts.chaos_phase(ChaosPhaseInputs(plan, run.timeline, progress, load_running,
                                       live.experiment_runs, faults, interrupts,
                                       load_started))  # fmt: skip
    interrupts.check()
    entries, load_summary, load_ended = finish_load(
        plan, live, faults, progress, run.record, parts.clock
    )
    run.load_summary = load_summary
    # the fault windows, once: from inject to rollback (or the end of the load)
    windows = [w for e in live.experiment_runs if (w := e.fault_window(load_ended)) is not None]
    finished = FinishedRun(plan, backends, progress, alerting, watcher, live.probe,
                           live.experiment_runs, run.checks, entries, windows, load_started,
                           load_ended, parts.clock)  # fmt: skip
    parts.judge(finished, run.record)
    if profile.checks:
        _team_checks(run, load_summary, progress)

    exit_code, verdict = _verdict(run.checks)
    with interrupts.protected():
        path = run.write(exit_code, verdict, load_summary)
        faults.forget_undone()
    return RunOutcome(exit_code, verdict, path, tuple(run.checks))


def _team_checks(run: _Run, load_summary: dict[str, Any], progress: Progress) -> None:
    """The team's own checks, against the run's folder as it stands (summary.json written
    with the built-in checks first, so the tests read them)."""
    plan = run.plan
    directory = Path(plan.profile.checks)
    exit_code, verdict = _verdict(run.checks)
    run.write(exit_code, verdict, load_summary)
    expected = collect_team_checks(directory)
    progress.step(f"checks: {len(expected)} of your own, in {directory}")
    run.record(
        run_team_checks(
            directory,
            plan.run_dir,
            target=plan.target,
            timeout_s=plan.profile.check_timeout_s,
            expected_count=len(expected),
        )
    )


def _until(moment: float, clock: Clock) -> Callable[[], bool]:
    """What stands for "the load runs" when there is none: true until ``moment``."""
    return lambda: clock() < moment
