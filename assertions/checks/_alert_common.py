"""Pieces every alert judge shares: an episode as evidence, rounding, unobserved windows, and
the result builder of the ``alert.<title>.*`` checks about one expected alert."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assertions.checks.alert_expectations import ExpectedAlert
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import CheckResult, Status

__all__ = ["MAX_LISTED", "Judge", "episode_view", "round_s", "unobserved"]

MAX_LISTED = 20  # evidence lists stop here


def episode_view(episode: AlertEpisode) -> dict[str, Any]:
    return {
        "fingerprint": episode.fingerprint,
        "labels": dict(episode.labels),
        "starts_at": episode.starts_at,
        "first_seen": episode.first_seen,
        "last_seen": episode.last_seen,
        "resolved_at": episode.resolved_at,
    }


def round_s(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def unobserved(observations: AlertObservations, since: float, until: float) -> str:
    """Why the absence of an alert from ``since`` to ``until`` cannot be concluded, or ""."""
    if not observations.observed_until(until):
        last_error = observations.errors[-1][1] if observations.errors else "none"
        return (
            f"the watcher did not observe alertmanager up to {until - since:.1f} s "
            f"after inject (last successful poll at {observations.last_poll_at}); "
            f"last error: {last_error}"
        )
    failed = observations.errors_between(since, until)
    if failed:
        return f"{len(failed)} alertmanager polls failed in the window; last: {failed[-1][1]}"
    return ""


@dataclass(frozen=True)
class Judge:
    """Shared inputs of the results about one expected alert."""

    observations: AlertObservations
    expected: ExpectedAlert
    inject_at: float

    def result(
        self,
        suffix: str,
        status: Status,
        expected: Any,
        observed: Any,
        reason: str = "",
        *,
        latency: float | None = None,
        evidence: Mapping[str, Any] | None = None,
        attempts: int | None = None,
    ) -> CheckResult:
        return CheckResult(
            name=f"alert.{self.expected.title}.{suffix}",
            status=status,
            expected=expected,
            observed=observed,
            reason=reason,
            latency_s=round_s(latency),
            attempts=self.observations.polls if attempts is None else attempts,
            evidence={"inject_at": self.inject_at, **(evidence or {})},
        )

    @property
    def matching(self) -> list[AlertEpisode]:
        return [ep for ep in self.observations.episodes if self.expected.matches(ep.labels)]

    def unobserved(self, until: float) -> str:
        """Why absence until ``until`` cannot be concluded, or "" when it can."""
        return unobserved(self.observations, self.inject_at, until)
