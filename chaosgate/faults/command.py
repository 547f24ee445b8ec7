"""What the CLI does with the fault ledger: ``chaosgate cleanup``, the refusal of ``run`` while
a target has faults not undone, and the lines ``stack status`` shows."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping

from chaosgate.faults.ledger import FaultEntry
from chaosgate.faults.target_ledger import target_ledger
from chaosgate.faults.undo import CleanupOutcome, cleanup
from chaosgate.target import Target, TargetError

__all__ = ["PendingFaultsError", "pending_lines", "refuse_pending_faults", "run_cleanup"]


class PendingFaultsError(TargetError):
    """The target still has faults a run recorded and nobody undid."""


def _age(entry: FaultEntry) -> str:
    seconds = max(0.0, time.time() - entry.recorded_at)
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.0f} min"


def _line(entry: FaultEntry) -> str:
    state = "its undo failed" if entry.state == "undo-failed" else "not undone"
    runner = " (its runner still runs)" if entry.runner.alive() else ""
    return f"{entry.title}, run {entry.run_id}, {_age(entry)} ago: {state}{runner}"


def _ended_load(entry: FaultEntry) -> bool:
    """A load whose process has ended leaves nothing to undo (cleanup just forgets it)."""
    return entry.kind == "load" and (entry.process is None or not entry.process.alive())


def pending_lines(target: Target, env: Mapping[str, str] = os.environ) -> list[str]:
    """One line per fault still recorded for ``target`` (and per unreadable ledger file)."""
    ledger = target_ledger(target, env)
    entries, unreadable = ledger.read()
    pending = [entry for entry in entries if entry.state != "undone" and not _ended_load(entry)]
    pending.sort(key=lambda entry: entry.kind != "experiment")  # the faults first
    lines = [_line(entry) for entry in pending]
    lines += [f"unreadable ledger file {bad.path}: {bad.reason}" for bad in unreadable]
    return lines


def refuse_pending_faults(target: Target, env: Mapping[str, str] = os.environ) -> None:
    """PendingFaultsError naming the first fault and the command that undoes them all."""
    lines = pending_lines(target, env)
    if not lines:
        return
    more = f" and {len(lines) - 1} more" if len(lines) > 1 else ""
    spec = "" if target.name == "local" else f" --target {target.name}"
    raise PendingFaultsError(
        f"target {target.name!r} has faults recorded and not undone ({lines[0]}{more}); "
        f"undo them with `chaosgate cleanup{spec}` (add --dry-run to see them first)"
    )


def run_cleanup(
    target: Target,
    *,
    dry_run: bool,
    report: Callable[[str], None],
    env: Mapping[str, str] = os.environ,
) -> CleanupOutcome:
    from chaosgate.run.chaos_phase import chaos_environment

    ledger = target_ledger(target, env)
    outcome = cleanup(
        ledger, chaos_environment=lambda: chaos_environment(target), dry_run=dry_run, report=report
    )
    if outcome.clean and not outcome.undone and not outcome.planned:
        report(f"nothing to undo for target {target.name!r} (ledger {ledger.directory})")
    return outcome
