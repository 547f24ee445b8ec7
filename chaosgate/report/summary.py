"""summary.json: every check with expected / observed / status, the timeline, settings, seed."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assertions.result import CheckResult, Status

__all__ = ["RunSummary", "count_statuses", "write_summary"]


def count_statuses(checks: Sequence[CheckResult]) -> dict[str, int]:
    return {status.value: sum(1 for c in checks if c.status is status) for status in Status}


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    verdict: str  # passed / failed / unhealthy / interrupted
    exit_code: int
    started_at: float
    finished_at: float
    settings: Mapping[str, Any]
    timeline: Sequence[Mapping[str, Any]]
    checks: Sequence[CheckResult]
    load: Mapping[str, Any]
    artifacts: Mapping[str, str]
    # the run's fault ledger entries: what it injected and whether each was undone
    faults: Sequence[Mapping[str, Any]] = ()
    # what a replay needs (chaosgate.run.run_record); None: not recorded
    replay: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": round(self.finished_at - self.started_at, 3),
            "counts": count_statuses(self.checks),
            "failed_checks": [c.name for c in self.checks if not c.passed],
            "settings": dict(self.settings),
            "timeline": [dict(event) for event in self.timeline],
            "checks": [check.to_dict() for check in self.checks],
            "load": dict(self.load),
            "faults": [dict(entry) for entry in self.faults],
            "artifacts": dict(self.artifacts),
            **({"replay": dict(self.replay)} if self.replay is not None else {}),
        }


def write_summary(summary: RunSummary, path: Path) -> None:
    path.write_text(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")
