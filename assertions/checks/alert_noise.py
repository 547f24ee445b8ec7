"""``alerts.noise``: alerts of a severity (critical) that fired during the run unexpected."""

from __future__ import annotations

from collections.abc import Sequence

from assertions.checks._alert_common import MAX_LISTED, episode_view
from assertions.checks.alert_expectations import ExpectedAlert
from assertions.checks.alert_watcher import AlertObservations
from assertions.result import CheckResult, Status

__all__ = ["evaluate_noise"]


def evaluate_noise(
    observations: AlertObservations,
    expected_all: Sequence[ExpectedAlert],
    window: tuple[float, float],
    *,
    severity: str = "critical",
    coverage_slack_s: float = 5.0,
) -> CheckResult:
    """``alerts.noise``: alerts of ``severity`` active in ``window`` that no expectation names.

    Passing needs the watcher to have polled from the window's start to its end (give or take
    ``coverage_slack_s``); unexpected alerts fail the check whatever the coverage.
    """
    start, end = window
    unexpected = [
        ep
        for ep in observations.episodes
        if ep.labels.get("severity") == severity
        and ep.active_during(start, end)
        and not any(item.matches(ep.labels) for item in expected_all)
    ]

    def result(status: Status, reason: str = "") -> CheckResult:
        return CheckResult(
            name="alerts.noise",
            status=status,
            expected={"unexpected": 0, "severity": severity, "window": [start, end]},
            observed={"unexpected": len(unexpected)},
            reason=reason,
            attempts=observations.polls,
            evidence={"alerts": [episode_view(ep) for ep in unexpected[:MAX_LISTED]]},
        )

    if unexpected:
        names = sorted({ep.labels.get("alertname", "?") for ep in unexpected})
        return result(
            Status.FAILED,
            f"{len(unexpected)} unexpected {severity} alert episode(s) in the window: "
            + ", ".join(names),
        )
    first, last = observations.first_poll_at, observations.last_poll_at
    if (
        first is None
        or last is None
        or first > start + coverage_slack_s
        or last < end - coverage_slack_s
    ):
        last_error = observations.errors[-1][1] if observations.errors else "none"
        return result(
            Status.ERROR,
            f"the watcher did not observe the whole window (successful polls from {first} "
            f"to {last}); last error: {last_error}",
        )
    return result(Status.PASSED)
