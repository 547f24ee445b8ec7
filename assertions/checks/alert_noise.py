"""``alerts.noise``: alerts of a severity (critical) that fired during the run unexpected.

An unexpected episode Alertmanager inhibited (its ``inhibitedBy`` held something at a poll)
that reached no receiver is no noise: nobody was paged. It is listed apart, as ``inhibited``.
"Reached" is judged generously, so that noise is not missed: a firing webhook notification
carrying that very alert, or a Slack or email notification whose title names its alertname,
received between its ``startsAt`` and its resolution. When the receivers could not be read,
whether an inhibited episode reached one is unknown: the check is then an error, not a pass
and not a failure (an unexpected episode that was not inhibited fails it all the same).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from assertions.backends.sink import Notification
from assertions.checks._alert_common import MAX_LISTED, episode_view, unwatched
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert

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
    sink_error: str = "",
    severity: str = "critical",
    coverage_slack_s: float = 5.0,
) -> CheckResult:
    """``alerts.noise``: alerts of ``severity`` active in ``window`` that no expectation names.

    ``notifications`` are every receiver's; None when they could not be read (``sink_error``
    says why): an unexpected episode Alertmanager inhibited then makes the check an error,
    since whether it paged anyone is unknown. Passing needs the watcher to have polled from
    the window's start to its end with no stretch of failed polls longer than
    ``coverage_slack_s`` (:func:`~assertions.checks._alert_common.unwatched`); unexpected
    alerts that were not inhibited fail the check whatever the coverage.
    """
    start, end = window
    candidates = [
        ep
        for ep in observations.episodes
        if ep.labels.get("severity") == severity
        and ep.active_during(start, end)
        and not any(item.matches(ep.labels) for item in expected_all)
    ]
    if notifications is None:
        silenced, unknown = [], [ep for ep in candidates if ep.inhibited_by]
    else:
        silenced = [ep for ep in candidates if ep.inhibited_by and not _reached(ep, notifications)]
        unknown = []
    unexpected = [ep for ep in candidates if ep not in silenced and ep not in unknown]

    def result(status: Status, reason: str = "") -> CheckResult:
        return CheckResult(
            name="alerts.noise",
            status=status,
            expected={"unexpected": 0, "severity": severity, "window": [start, end]},
            observed={
                "unexpected": len(unexpected),
                "inhibited": len(silenced),
                "inhibited_delivery_unknown": len(unknown),
            },
            reason=reason,
            attempts=observations.polls,
            evidence={
                "alerts": [episode_view(ep) for ep in unexpected[:MAX_LISTED]],
                "inhibited": [
                    {**episode_view(ep), "inhibited_by": list(ep.inhibited_by)}
                    for ep in silenced[:MAX_LISTED]
                ],
                "inhibited_delivery_unknown": [
                    {**episode_view(ep), "inhibited_by": list(ep.inhibited_by)}
                    for ep in unknown[:MAX_LISTED]
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
    problems = []
    if unknown:
        muted = ", ".join(sorted({ep.labels.get("alertname", "?") for ep in unknown}))
        problems.append(
            f"{len(unknown)} unexpected {severity} alert episode(s) were inhibited ({muted}), "
            "but whether they reached a receiver is unknown: the receivers could not be read: "
            f"{sink_error or 'no notifications given'}"
        )
    why = unwatched(observations, start, end, coverage_slack_s)
    if why:
        problems.append(why)
    if problems:
        return result(Status.ERROR, "; ".join(problems))
    return result(Status.PASSED)
