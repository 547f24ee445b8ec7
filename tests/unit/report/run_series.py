"""Several synthetic run folders under one reports folder, for comparisons and trends.

Each is :func:`~tests.unit.report.run_fixture.write_run_folder`'s run (the same checks,
written by RunSummary), given its own run id, start and profile, and optionally its own
checks; no ledger (comparisons and trends read summary.json only).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from assertions.result import CheckResult, Status
from tests.unit.report.run_fixture import START, checks, read_summary, write_run_folder

__all__ = ["DAY", "changed", "write_run"]

DAY = 86_400.0


def write_run(
    reports: Path,
    run_id: str,
    *,
    days: float = 0.0,
    profile: str = "smoke",
    results: Sequence[CheckResult] | None = None,
    verdict: str = "failed",
) -> Path:
    """``reports/<run_id>/summary.json`` of a run started ``days`` after the fixture's."""
    staging = reports.parent / f".staging-{run_id}"
    built = write_run_folder(staging, verdict=verdict, results=results, ledger=[])
    summary: dict[str, Any] = read_summary(built)
    summary["run_id"] = run_id
    summary["started_at"] = START + days * DAY
    summary["finished_at"] = summary["started_at"] + 95.0
    summary["settings"]["profile"]["name"] = profile
    reports.mkdir(parents=True, exist_ok=True)
    run_dir = reports / run_id
    built.rename(run_dir)
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    staging.rmdir()
    return run_dir


def changed(
    name: str, base: Sequence[CheckResult] | None = None, **fields: Any
) -> list[CheckResult]:
    """``base`` (the fixture's checks) with the one named ``name`` changed (``status`` may
    be given as a string)."""
    results = list(checks() if base is None else base)
    if isinstance(fields.get("status"), str):
        fields["status"] = Status(fields["status"])
    assert any(check.name == name for check in results), f"no check {name!r}"
    return [replace(check, **fields) if check.name == name else check for check in results]
