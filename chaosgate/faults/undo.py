"""Undoing what the fault ledger still holds: ``chaosgate cleanup``.

An ``experiment`` entry is undone by playing its rollbacks again, through chaoslib (the same
activity runner the experiment used), with the configuration values and environment recorded
with it and inside the target's chaos environment (the cluster chaosk8s reaches). Every
rollback of chaosgate's experiments is idempotent (it undoes exactly what its own records
say, or sets a state that is already right), so playing them after they already ran is safe.
A ``load`` entry is undone by stopping that Locust process, if it still runs (the same pid
and start time; a reused pid is never signalled), with its children.

Entries whose runner is still alive are left alone: their faults are that run's own, and it
will undo them (stop it with SIGINT or SIGTERM first).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field

import psutil
from chaoslib.activity import execute_activity
from chaoslib.caching import cache_activities, clear_cache
from chaoslib.configuration import load_configuration
from chaoslib.secret import load_secrets

from chaosgate.chaos.experiments import exception_text
from chaosgate.faults.ledger import FaultEntry, FaultLedger, UnreadableEntry

__all__ = ["CleanupOutcome", "UndoResult", "cleanup", "undo_entry"]

Report = Callable[[str], None]
STOP_GRACE_S = 5.0


@dataclass(frozen=True)
class UndoResult:
    entry: FaultEntry
    undone: bool
    lines: tuple[str, ...]  # what was done, one line per step


@dataclass
class CleanupOutcome:
    undone: list[UndoResult] = field(default_factory=list)
    failed: list[UndoResult] = field(default_factory=list)
    live: list[FaultEntry] = field(default_factory=list)  # their runner still runs
    planned: list[FaultEntry] = field(default_factory=list)  # --dry-run: would be undone
    unreadable: list[UnreadableEntry] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.failed or self.live or self.unreadable)


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _play_rollbacks(entry: FaultEntry) -> UndoResult:
    experiment = entry.experiment
    rollbacks = entry.rollbacks
    if not rollbacks:
        return UndoResult(entry, True, ("no rollback to play (the fault undoes itself)",))
    lines: list[str] = []
    undone = True
    configuration = load_configuration(
        dict(experiment.get("configuration") or {}), extra_vars=dict(entry.configuration)
    )
    secrets = load_secrets(dict(experiment.get("secrets") or {}), configuration)
    cache_activities(experiment)  # rollbacks may name an activity of the method by "ref"
    try:
        for activity in rollbacks:
            name = str(activity.get("name") or activity.get("ref") or "?")
            try:
                run = execute_activity(experiment, activity, configuration, secrets, None)
            except Exception as exc:  # chaoslib raises for a ref it cannot find
                run = {"status": "failed", "exception": [f"{type(exc).__name__}: {exc}"]}
            if run.get("status") == "succeeded":
                lines.append(f"rollback {name}: done")
            else:
                undone = False
                lines.append(f"rollback {name}: FAILED: {exception_text(run.get('exception'))}")
    finally:
        clear_cache()
    return UndoResult(entry, undone, tuple(lines))


def _stop_load(entry: FaultEntry) -> UndoResult:
    process = entry.process.process() if entry.process else None
    if process is None:
        return UndoResult(entry, True, ("the load process had already ended",))
    family = [process, *process.children(recursive=True)]
    for member in family:
        with suppress(psutil.NoSuchProcess):
            member.terminate()
    _ended, alive = psutil.wait_procs(family, timeout=STOP_GRACE_S)
    for member in alive:
        with suppress(psutil.NoSuchProcess):
            member.kill()
    _ended, alive = psutil.wait_procs(alive, timeout=STOP_GRACE_S)
    if alive:
        pids = ", ".join(str(p.pid) for p in alive)
        return UndoResult(entry, False, (f"the load process(es) {pids} survived SIGKILL",))
    children = len(family) - 1
    return UndoResult(
        entry, True, (f"stopped the load process {process.pid} and {children} child(ren)",)
    )


def undo_entry(
    entry: FaultEntry, chaos_environment: Callable[[], AbstractContextManager[None]]
) -> UndoResult:
    """Undo one entry (it is not marked here)."""
    if entry.kind == "load":
        return _stop_load(entry)
    try:
        with _environment(entry.environment), chaos_environment():
            return _play_rollbacks(entry)
    except Exception as exc:  # the cluster is unreachable, the kubeconfig is gone, ...
        return UndoResult(
            entry, False, (f"could not play the rollbacks: {type(exc).__name__}: {exc}",)
        )


def cleanup(
    ledger: FaultLedger,
    *,
    chaos_environment: Callable[[], AbstractContextManager[None]],
    dry_run: bool = False,
    report: Report = print,
) -> CleanupOutcome:
    """Undo every pending entry of ``ledger`` whose runner is gone; undone entries are removed,
    failed ones stay (marked ``undo-failed`` with the reason) for the next attempt."""
    entries, unreadable = ledger.read()
    outcome = CleanupOutcome(unreadable=unreadable)
    for bad in unreadable:
        report(f"unreadable ledger file {bad.path}: {bad.reason} (check it, then delete it)")
    for entry in entries:
        if entry.state == "undone":
            if not dry_run:
                ledger.remove(entry.id)
            continue
        if entry.runner.alive() and entry.runner.pid != os.getpid():
            outcome.live.append(entry)
            report(
                f"left alone: {entry.title} (run {entry.run_id}): its runner, pid "
                f"{entry.runner.pid}, still runs and undoes its own faults; stop it first"
            )
            continue
        if dry_run:
            steps = (
                [f"stop the load process {entry.process.pid}" if entry.process else "nothing"]
                if entry.kind == "load"
                else [f"play rollback {r.get('name') or r.get('ref')}" for r in entry.rollbacks]
                or ["nothing to play (the fault undoes itself)"]
            )
            report(f"would undo: {entry.title} (run {entry.run_id}): {'; '.join(steps)}")
            outcome.planned.append(entry)
            continue
        result = undo_entry(entry, chaos_environment)
        for line in result.lines:
            report(f"{entry.title}: {line}")
        if result.undone:
            ledger.remove(entry.id)
            outcome.undone.append(result)
            report(f"undone: {entry.title} (run {entry.run_id})")
        else:
            ledger.write(entry.marked("undo-failed", "; ".join(result.lines), at=time.time()))
            outcome.failed.append(result)
    return outcome
