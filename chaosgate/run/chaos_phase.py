"""The chaos phase of a run: beside the load, each experiment in turn through chaoslib.

Kubernetes chaos (``Target.chaos``) runs each experiment inside
:func:`~chaosgate.chaos.k8s_env.kubernetes_environment` (chaosk8s then reaches the target's
cluster, and nothing of it outlives the experiment) with the target's ``stress_node`` as the
experiments' configuration value ``stress_node``. An experiment ran well when chaoslib
completed it, its fault was injected and no action or rollback of it failed.

A replay's plan has a ``schedule`` (:class:`~chaosgate.run.run_plan.ScheduledExperiment`):
then each experiment starts at the load's start plus its recorded ``started_s`` (not after
``chaos_start_s`` and ``recovery_s`` gaps), and its first action is held back until the load's
start plus ``inject_s`` (:class:`~chaosgate.run.replay_schedule.InjectAlignment`). An
experiment the recorded run never started, or that started after the load's end, is skipped
with a line; so are the rest once the load has ended.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from chaosgate.chaos.experiments import (
    chaosgate_extension,
    failed_activities,
    load_experiment,
    run_experiment,
)
from chaosgate.chaos.k8s_env import kubernetes_environment
from chaosgate.chaos.timeline import Timeline
from chaosgate.faults.ledger import FaultEntry
from chaosgate.faults.recorder import RunFaults
from chaosgate.faults.undo import undo_entry
from chaosgate.run.interrupts import Interrupts, RunInterrupted
from chaosgate.run.progress import Progress
from chaosgate.run.replay_schedule import InjectAlignment, Sleep, wait_until
from chaosgate.run.run_plan import RunPlan, ScheduledExperiment
from chaosgate.target import Target
from chaosgate.vocabulary import Clock, ExpectedAlert, FaultWindow
from refstack.launcher.layout import StackLayout

__all__ = [
    "ChaosPhaseInputs",
    "ExperimentRun",
    "chaos_environment",
    "chaostoolkit_log",
    "run_chaos_timeline",
]


@dataclass(frozen=True)
class ExperimentRun:
    path: Path
    title: str
    expected: tuple[ExpectedAlert, ...]
    resolve_deadline_s: float
    journal_path: Path
    inject_at: float | None
    rollback_at: float | None
    status: str
    error: str = ""
    keeps_slo: bool = False
    failed: tuple[str, ...] = ()  # "<phase>: <activity>: <why>" of failed actions / rollbacks
    # alerts the fault raises that Alertmanager must inhibit: (the alert, its source's name)
    inhibited: tuple[tuple[ExpectedAlert, str], ...] = ()

    def fault_window(self, until: float) -> FaultWindow | None:
        """Its fault's window, named after the file's stem: from the inject to the rollback, or
        to ``until`` (the load's end) when the rollbacks never finished; None when nothing was
        injected."""
        if self.inject_at is None:
            return None
        end = until if self.rollback_at is None else self.rollback_at
        return FaultWindow(self.inject_at, end, self.path.stem)


def chaos_environment(target: Target) -> AbstractContextManager[None]:
    """Where chaosk8s finds the cluster while an experiment runs (nothing for local chaos)."""
    if target.chaos == "kubernetes":
        return kubernetes_environment(target.kubernetes)
    return nullcontext()


def _configuration(target: Target) -> dict[str, Any]:
    """Values for the experiments' ``configuration`` blocks that come from the target: its
    ``gateway_url`` and, for Kubernetes chaos, its ``stress_node`` (when set)."""
    values: dict[str, Any] = {"gateway_url": target.gateway_url}
    node = target.kubernetes.stress_node
    if target.chaos == "kubernetes" and node:
        values["stress_node"] = node
    return values


@contextmanager
def chaostoolkit_log(path: Path) -> Iterator[None]:
    """chaoslib's own log goes to the run's folder, not into the live progress."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("chaostoolkit")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    previous = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous[0])
        logger.propagate = previous[1]


def _pause_while(condition: Callable[[], bool], seconds: float) -> bool:
    """Sleep up to ``seconds`` while ``condition`` holds; False if it stopped holding."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    return condition()


def _overrides(experiment: Mapping[str, Any], target: Target) -> dict[str, Any]:
    declared = experiment.get("configuration")
    return {
        key: value
        for key, value in _configuration(target).items()
        if isinstance(declared, dict) and key in declared
    }


def _stack_environment() -> dict[str, str]:
    """What the local actions' rollbacks need to find the same stack from another process."""
    return {"CHAOSGATE_STACK_DIR": str(StackLayout.from_env(os.environ).state_dir)}


def _rollbacks_played(experiment: Mapping[str, Any], journal: Mapping[str, Any]) -> bool:
    """Did chaoslib play every rollback the experiment declares (whatever their outcome)?"""
    declared = experiment.get("rollbacks")
    played = journal.get("rollbacks")
    expected = len(declared) if isinstance(declared, list) else 0
    return expected == 0 or (isinstance(played, list) and len(played) >= expected)


def _settle(
    faults: RunFaults,
    entry: FaultEntry,
    target: Target,
    journal: Mapping[str, Any] | None,
    failed: tuple[str, ...],
) -> tuple[str, ...]:
    """Mark the experiment's ledger entry after chaoslib returned (or raised): undone when its
    rollbacks all ran and succeeded; otherwise they are played again here, once. Returns the
    failures of that second attempt (none when it undid the fault)."""
    rollback_failures = tuple(f for f in failed if f.startswith("rollback: "))
    if (
        journal is not None
        and _rollbacks_played(entry.experiment, journal)
        and not rollback_failures
    ):
        faults.settle(entry, undone=True, detail="rolled back by the experiment")
        return ()
    result = undo_entry(entry, lambda: chaos_environment(target))
    detail = "; ".join(result.lines)
    faults.settle(entry, undone=result.undone, detail=f"rollbacks played again: {detail}")
    return () if result.undone else tuple(f"rollback again: {line}" for line in result.lines)


def _wait_for_slot(
    plan: RunPlan,
    path: Path,
    slot: ScheduledExperiment | None,
    load_started: float,
    load_running: Callable[[], bool],
    progress: Progress,
    clock: Clock,
    sleep: Sleep,
) -> Literal["play", "skip", "stop"]:
    """A replay's experiment: wait for its recorded start, or say why it does not play."""
    if slot is None:
        progress.info(f"chaos: {path.stem} did not start in the recorded run; skipped")
        return "skip"
    end_s = plan.profile.duration_s
    if slot.started_s >= end_s:
        progress.info(
            f"chaos: {path.stem} started at +{slot.started_s:.1f} s in the recorded "
            f"run, past the load's end (+{end_s} s); skipped"
        )
        return "skip"
    moment = load_started + slot.started_s
    late = clock() - moment
    if late > 1.0:
        progress.info(
            f"chaos: {path.stem} starts {late:.1f} s after its recorded start "
            f"(+{slot.started_s:.1f} s): the experiment before it ran longer"
        )
    if not wait_until(moment, clock=clock, sleep=sleep, keep_waiting=load_running):
        progress.info(
            f"chaos: the load ended before {path.stem}'s recorded start "
            f"(+{slot.started_s:.1f} s); it and later experiments skipped"
        )
        return "stop"
    return "play"


def _inject_line(
    stem: str, slot: ScheduledExperiment, inject_at: float | None, load_started: float
) -> str:
    if slot.inject_s is None:
        return f"chaos: {stem} injected nothing in the recorded run"
    if inject_at is None:
        return f"chaos: {stem} injected nothing (recorded: at +{slot.inject_s:.2f} s)"
    offset = inject_at - load_started
    return (
        f"chaos: {stem} injected at +{offset:.2f} s, recorded +{slot.inject_s:.2f} s "
        f"({offset - slot.inject_s:+.2f} s)"
    )


@dataclass(frozen=True)
class ChaosPhaseInputs:
    """What the chaos phase is handed by the run: its plan, the timeline it stamps, where it
    reports, whether the load still runs, the list each experiment's result is appended to as
    it ends, the run's fault ledger and its signals, and when the load started (unix seconds;
    a replay's offsets count from it)."""

    plan: RunPlan
    timeline: Timeline
    progress: Progress
    load_running: Callable[[], bool]
    results: list[ExperimentRun]
    faults: RunFaults
    interrupts: Interrupts
    load_started: float | None = None


def run_chaos_timeline(
    inputs: ChaosPhaseInputs, *, clock: Clock = time.time, sleep: Sleep = time.sleep
) -> None:
    """Beside the load: wait, then each experiment in turn, with recovery gaps between them
    (or, for a replay's plan, each at its recorded offsets from ``load_started``, unix
    seconds as ``clock`` tells them). Each experiment is written to the fault ledger before it
    runs and marked after; a signal (RunInterrupted) ends the experiment through its
    rollbacks and then ends the phase. ``clock`` also stamps the chaos timeline."""
    plan, timeline, progress = inputs.plan, inputs.timeline, inputs.progress
    results = inputs.results
    load_running, load_started = inputs.load_running, inputs.load_started
    faults, interrupts = inputs.faults, inputs.interrupts
    schedule = plan.schedule
    if schedule is not None and (load_started is None or len(schedule) != len(plan.experiments)):
        raise ValueError("a replay's chaos needs the load's start and one slot per experiment")
    if schedule is None and not _pause_while(load_running, plan.profile.chaos_start_s):
        progress.info("chaos: the load ended before the first fault; no experiment ran")
        return
    chaos_dir = plan.run_dir / "chaos"
    chaos_dir.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(plan.experiments):
        if not load_running():
            progress.info(f"chaos: the load ended; {path.stem} and later experiments skipped")
            return
        slot = None if schedule is None else schedule[index]
        alignment = None
        if schedule is not None and load_started is not None:
            decision = _wait_for_slot(
                plan, path, slot, load_started, load_running, progress, clock, sleep
            )
            if decision == "stop":
                return
            if decision == "skip":
                continue
            if slot is not None and slot.inject_s is not None:
                alignment = InjectAlignment(load_started + slot.inject_s, clock=clock, sleep=sleep)
        experiment = load_experiment(path)
        extension = chaosgate_extension(experiment, source=str(path))
        expected = extension.expected_alerts
        inhibited = tuple((i.alert, i.inhibited_by) for i in extension.expected_inhibitions)
        title = str(experiment.get("title", path.stem))
        progress.step(f"chaos: {path.stem} ({title})")
        journal_path = chaos_dir / f"{index:02d}-{path.stem}.journal.json"
        error = ""
        failed: tuple[str, ...] = ()
        journal: dict[str, Any] | None = None
        with interrupts.protected():
            entry = faults.record_experiment(
                index,
                path,
                experiment,
                configuration=_overrides(experiment, plan.target),
                environment=_stack_environment(),
            )
        try:
            with chaos_environment(plan.target):
                journal = run_experiment(
                    path,
                    timeline=timeline,
                    configuration=_configuration(plan.target),
                    clock=clock,
                    event_handlers=[interrupts.chaoslib_handler(), *filter(None, [alignment])],
                )
            status = str(journal.get("status", "unknown"))
            failed = tuple(failed_activities(journal))
            journal_path.write_text(json.dumps(journal, indent=2, default=str))
        except RunInterrupted:
            status, error = "interrupted", f"interrupted by {interrupts.signal_name}"
        except Exception as exc:  # chaoslib or our provider failed: record, never crash the run
            status, error = "error", f"{type(exc).__name__}: {exc}"
        with interrupts.protected():  # a signal now waits until the fault is known undone
            failed += _settle(faults, entry, plan.target, journal, failed)
            window = timeline.span(title)
            results.append(
                ExperimentRun(
                    path=path,
                    title=title,
                    expected=expected,
                    resolve_deadline_s=extension.resolve_deadline_s,
                    journal_path=journal_path,
                    inject_at=window.inject_at if window else None,
                    rollback_at=window.rollback_at if window else None,
                    status=status,
                    error=error,
                    keeps_slo=extension.keeps_slo,
                    failed=failed,
                    inhibited=inhibited,
                )
            )
            problems = "; ".join(filter(None, [error, *failed]))
            progress.info(f"chaos: {path.stem} {status}{': ' + problems if problems else ''}")
            if slot is not None and load_started is not None:
                inject_at = window.inject_at if window else None
                progress.info(_inject_line(path.stem, slot, inject_at, load_started))
        if schedule is None and index < len(plan.experiments) - 1:
            _pause_while(load_running, plan.profile.recovery_s)
