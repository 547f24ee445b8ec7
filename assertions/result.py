"""CheckResult: what every check returns, pass or fail or error, as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["CheckResult", "Status"]


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"  # the system broke a promise
    ERROR = "error"  # the check could not observe (backend down, malformed answer): never a pass


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict. ``expected`` and ``observed`` are JSON-ready values."""

    # stable and unique in a run, e.g. "traces.completeness", "alert.UsersServiceDown.fired"
    name: str
    status: Status
    expected: Any
    observed: Any
    reason: str = ""  # one line: why it failed or errored (empty when passed)
    latency_s: float | None = None  # the measured latency this check is about, if any
    attempts: int = 0  # polls / requests made
    evidence: Mapping[str, Any] = field(default_factory=dict)  # small, JSON-ready

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "expected": self.expected,
            "observed": self.observed,
            "reason": self.reason,
            "latency_s": self.latency_s,
            "attempts": self.attempts,
            "evidence": dict(self.evidence),
        }
