"""The ``logs.flood`` checks of a run: one per log flood its experiments played.

A flood is an experiment activity whose provider is ``flood_logs``
(:mod:`chaosgate.chaos.local_log_flood`); its observation is the activity's output in the
experiment's journal. It is judged by :func:`assertions.checks.log_flood.evaluate_log_flood`
against the rate the activity asked for (the experiment states the platform's claim by asking
for it). A flood activity that failed, or a journal that cannot be read, is an error result
naming the experiment; an experiment without a flood adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from assertions.checks.log_flood import CHECK_NAME, evaluate_log_flood
from assertions.result import CheckResult, Status
from chaosgate.run.chaos_phase import ExperimentRun

__all__ = ["FLOOD_FUNC", "log_flood_checks"]

FLOOD_FUNC = "flood_logs"


def _floods(journal: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    runs = journal.get("run")
    for run in runs if isinstance(runs, list) else []:
        activity = run.get("activity") if isinstance(run, dict) else None
        provider = activity.get("provider") if isinstance(activity, dict) else None
        if isinstance(provider, dict) and provider.get("func") == FLOOD_FUNC:
            yield run


def _read_journal(path: Path) -> Mapping[str, Any]:
    journal = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(journal, dict):
        raise ValueError("not a JSON object")
    return journal


def _checks_of(run: ExperimentRun) -> list[CheckResult]:
    name = f"{CHECK_NAME}[{run.path.stem}]"
    try:
        journal = _read_journal(run.journal_path)
    except FileNotFoundError:
        return []  # the experiment never ran (refused before it started): nothing flooded
    except (OSError, ValueError) as exc:
        return [
            CheckResult(name, Status.ERROR, {}, {}, f"journal {run.journal_path} unreadable: {exc}")
        ]
    results = []
    for flood in _floods(journal):
        arguments = flood["activity"]["provider"].get("arguments") or {}
        claimed = arguments.get("lines_per_s")
        output = flood.get("output")
        if flood.get("status") != "succeeded" or not isinstance(output, dict):
            why = run.failed[0] if run.failed else f"status {flood.get('status')!r}"
            results.append(
                CheckResult(
                    name,
                    Status.ERROR,
                    {"lines_per_s_at_least": claimed},
                    {},
                    f"the flood did not complete: {why}",
                    evidence={"journal": str(run.journal_path)},
                )
            )
            continue
        if isinstance(claimed, bool) or not isinstance(claimed, int | float):
            claimed = output.get("lines_per_s", 0)
        results.append(evaluate_log_flood(output, claimed_lines_per_s=float(claimed), name=name))
    return results


def log_flood_checks(runs: Sequence[ExperimentRun]) -> list[CheckResult]:
    """The checks of every flood in ``runs``, in their order."""
    return [result for run in runs for result in _checks_of(run)]
