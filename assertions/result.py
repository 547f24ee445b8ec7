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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """The result :meth:`to_dict` wrote (summary.json's ``checks``), e.g. to rewrite a
        run's reports. Missing optional fields take their defaults; a field of the wrong type
        is a ValueError naming it (a JSON number such as ``3.0`` is taken for ``attempts``
        only when it is whole)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a check must be an object, not {type(data).__name__}")
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("a check needs a non-empty string 'name'")
        given = data.get("status")
        if not isinstance(given, str) or given not in {s.value for s in Status}:
            allowed = ", ".join(s.value for s in Status)
            raise ValueError(f"check {name!r}: 'status' is {given!r}, not one of {allowed}")
        status = Status(given)
        reason = data.get("reason", "")
        latency = data.get("latency_s")
        attempts = data.get("attempts", 0)
        evidence = data.get("evidence", {})
        if not isinstance(reason, str):
            raise ValueError(f"check {name!r}: 'reason' must be a string")
        if latency is not None and (
            isinstance(latency, bool) or not isinstance(latency, int | float)
        ):
            raise ValueError(f"check {name!r}: 'latency_s' must be a number or null")
        if isinstance(attempts, float) and attempts.is_integer():
            attempts = int(attempts)
        if isinstance(attempts, bool) or not isinstance(attempts, int):
            raise ValueError(f"check {name!r}: 'attempts' must be a whole number")
        if not isinstance(evidence, Mapping):
            raise ValueError(f"check {name!r}: 'evidence' must be an object")
        return cls(
            name=name,
            status=status,
            expected=data.get("expected"),
            observed=data.get("observed"),
            reason=reason,
            latency_s=None if latency is None else float(latency),
            attempts=attempts,
            evidence=dict(evidence),
        )

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
