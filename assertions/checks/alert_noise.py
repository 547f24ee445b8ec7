"""``alerts.noise``: alerts of a severity (critical) that fired during the run unexpected.

An unexpected episode Alertmanager inhibited (its ``inhibitedBy`` held something at a poll)
that reached no receiver is no noise: nobody was paged. It is listed apart, as ``inhibited``.
"Reached" is judged generously, so that noise is not missed: a firing webhook notification
carrying that very alert, or a Slack or email notification whose title names its alertname,
received between its ``startsAt`` and its resolution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from assertions.backends.sink import Notification
from assertions.checks._alert_common import MAX_LISTED, episode_view
from assertions.checks.alert_expectations import ExpectedAlert
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import CheckResult, Status

__all__ = ["evaluate_noise"]


def _reached(episode: AlertEpisode, notifications: Sequence[Notification]) -> bool:
    name = episode.labels.get("alertname", "")
    end = episode.resolved_at if episode.resolved_at is not None else math.inf
    return any(
        episode.starts_at <= note.received_at_unix <= end
        and note.mentions(name, dict(episode.labels) if note.receiver == "webhook" else {})
        for note in notifications
    )


def evaluate_noise(
    observations: AlertObservations,
    expected_all: Sequence[ExpectedAlert],
    window: tuple[float, float],
    *,
    notifications: Sequence[Notification] | None = None,
    severity: str = "critical",
    coverage_slack_s: float = 5.0,
) -> CheckResult:
    """``alerts.noise``: alerts of ``severity`` active in ``window`` that no expectation names.

    ``notifications`` are every receiver's; without them (None) an inhibited episode counts
    as noise like any other. Passing needs the watcher to have polled from the window's start
    to its end (give or take ``coverage_slack_s``); unexpected alerts fail the check whatever
    the coverage.
    """
    start, end = window
    candidates = [
        ep
        for ep in observations.episodes
        if ep.labels.get("severity") == severity
        and ep.active_during(start, end)
        and not any(item.matches(ep.labels) for item in expected_all)
    ]
    silenced = [
        ep
        for ep in candidates
        if notifications is not None and ep.inhibited_by and not _reached(ep, notifications)
    ]
    unexpected = [ep for ep in candidates if ep not in silenced]

    def result(status: Status, reason: str = "") -> CheckResult:
        return CheckResult(
            name="alerts.noise",
            status=status,
            expected={"unexpected": 0, "severity": severity, "window": [start, end]},
            observed={"unexpected": len(unexpected), "inhibited": len(silenced)},
            reason=reason,
            attempts=observations.polls,
            evidence={
                "alerts": [episode_view(ep) for ep in unexpected[:MAX_LISTED]],
                "inhibited": [
                    {**episode_view(ep), "inhibited_by": list(ep.inhibited_by)}
                    for ep in silenced[:MAX_LISTED]
                ],
            },
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
