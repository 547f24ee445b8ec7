"""Pieces every alert judge shares: an episode as evidence, rounding, unobserved windows, and
the result builder of the ``alert.<title>.*`` checks about one expected alert."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from assertions.checks.alert_check_names import alert_check_name
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert

__all__ = ["MAX_LISTED", "Judge", "episode_view", "round_s", "unobserved", "unwatched"]

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
        return (
            f"the watcher did not observe {observations.source} up to {until - since:.1f} s "
            f"after inject (last successful poll at {observations.last_poll_at}); "
            f"last error: {observations.last_error()}"
        )
    failed = observations.errors_between(since, until)
    if failed:
        return (
            f"{len(failed)} alertmanager polls failed in the window (polling "
            f"{observations.source}); last: {failed[-1][1]}"
        )
    return ""


def unwatched(observations: AlertObservations, start: float, end: float, slack_s: float) -> str:
    """Why the watcher cannot vouch for ``[start, end]`` (give or take ``slack_s``), or "".

    It can when it polled successfully from the window's start to its end and never went
    longer than ``slack_s`` without a successful poll inside it (a hanging or failing
    Alertmanager in the middle of the window hides whatever fired then).
    """
    first, last = observations.first_poll_at, observations.last_poll_at
    if first is None or last is None or first > start + slack_s or last < end - slack_s:
        return (
            f"the watcher did not observe {observations.source} over the whole window "
            f"(successful polls from {first} to {last}); last error: {observations.last_error()}"
        )
    length, gap_start, gap_end = observations.longest_gap_within(start, end)
    if length > slack_s:
        failed = observations.errors_between(gap_start, math.inf if gap_end is None else gap_end)
        return (
            f"{observations.source} could not be polled for {length:.1f} s inside the window "
            f"(no successful poll from {gap_start} to {gap_end}); "
            f"last error: {failed[-1][1] if failed else observations.last_error()}"
        )
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
            name=alert_check_name(self.expected.title, suffix),
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
