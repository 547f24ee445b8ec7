"""A run's plan (what to run, against what, where its reports go) and its outcome."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assertions.result import CheckResult
from chaosgate.run.profiles import Profile
from chaosgate.target import Target

__all__ = ["RunOutcome", "RunPlan"]


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    run_dir: Path
    target: Target
    profile: Profile
    experiments: tuple[Path, ...]
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    verdict: str
    summary_path: Path
    checks: tuple[CheckResult, ...]
