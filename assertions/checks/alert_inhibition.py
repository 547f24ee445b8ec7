"""``alerts.inhibition``: the alerts a fault raises that Alertmanager must inhibit (pure).

An expected inhibition holds when the inhibited alert was raised (an episode matching it was
first seen within its deadline of inject), Alertmanager listed it inhibited by an episode of
the source alert (its ``inhibitedBy`` held that episode's fingerprint at some poll), and no
receiver got a firing notification mentioning it between inject and ``until``. Absence is
concluded only from a window the watcher observed without failed polls, as for
``alert.<title>.fired``; otherwise the result is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assertions.backends.sink import Notification
from assertions.checks._alert_common import MAX_LISTED, episode_view, round_s, unobserved
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert

__all__ = ["ExpectedInhibition", "evaluate_inhibition"]


@dataclass(frozen=True)
class ExpectedInhibition:
    """``alert`` must be raised within its deadline of ``inject_at``, inhibited by an alert
    called ``source``, and reach no receiver before ``until`` (e.g. the rollback)."""

    alert: ExpectedAlert
    source: str
    inject_at: float
    until: float


@dataclass(frozen=True)
class _Verdict:
    status: Status
    reason: str
    evidence: dict[str, Any]


def _view(episode: AlertEpisode) -> dict[str, Any]:
    return {
        **episode_view(episode),
        "inhibited_by": list(episode.inhibited_by),
        "suppressed_polls": episode.suppressed_polls,
        "active_polls": episode.active_polls,
    }


def _judge(
    observations: AlertObservations,
    item: ExpectedInhibition,
    notifications: Sequence[Notification],
    sink_error: str,
) -> _Verdict:
    alert, title = item.alert, item.alert.title
    window_end = item.inject_at + alert.deadline_s
    raised = [
        ep
        for ep in observations.episodes
        if alert.matches(ep.labels) and item.inject_at <= ep.first_seen <= window_end
    ]
    sources = {
        ep.fingerprint for ep in observations.episodes if ep.labels.get("alertname") == item.source
    }
    evidence: dict[str, Any] = {
        "alert": title,
        "inhibited_by": item.source,
        "inject_at": item.inject_at,
        "until": item.until,
        "episodes": [_view(ep) for ep in raised[:MAX_LISTED]],
    }

    def verdict(status: Status, reason: str = "") -> _Verdict:
        return _Verdict(status, reason, {**evidence, "status": status.value, "reason": reason})

    if not raised:
        why = unobserved(observations, item.inject_at, window_end)
        if why:
            return verdict(Status.ERROR, f"{title}: {why}")
        return verdict(
            Status.FAILED,
            f"{title} was never raised within {alert.deadline_s:g} s of inject, so its "
            f"inhibition by {item.source} could not be seen",
        )
    not_inhibited = [ep for ep in raised if not sources.intersection(ep.inhibited_by)]
    if not_inhibited:
        episode = not_inhibited[0]
        others = ", ".join(episode.inhibited_by) or "nothing"
        return verdict(
            Status.FAILED,
            f"{title} was not inhibited by {item.source}: alertmanager listed it inhibited by "
            f"{others} ({episode.active_polls} polls saw it active)",
        )
    leaks = sorted(
        (
            n
            for n in notifications
            if item.inject_at <= n.received_at_unix <= item.until
            and n.mentions(alert.alertname, alert.labels, alert.label_patterns, "firing")
        ),
        key=lambda n: n.received_at_unix,
    )
    if leaks:
        evidence["notifications"] = [
            {"receiver": n.receiver, "received_at": n.received_at_unix, "title": n.title}
            for n in leaks[:MAX_LISTED]
        ]
        first = leaks[0]
        return verdict(
            Status.FAILED,
            f"{title} reached {first.receiver} "
            f"{round_s(first.received_at_unix - item.inject_at)} s after inject although "
            f"alertmanager listed it inhibited by {item.source}",
        )
    if sink_error:
        return verdict(Status.ERROR, f"{title}: the receivers could not be read: {sink_error}")
    return verdict(Status.PASSED)


def evaluate_inhibition(
    observations: AlertObservations,
    expectations: Sequence[ExpectedInhibition],
    notifications: Sequence[Notification],
    *,
    sink_error: str = "",
) -> CheckResult:
    """``alerts.inhibition`` over every expected inhibition of the run: failed when one is
    broken (naming it), else an error when one could not be observed, else passed.

    ``notifications`` are every receiver's (``sink_error``: why they could not be read).
    """
    verdicts = [_judge(observations, item, notifications, sink_error) for item in expectations]
    failed = [v for v in verdicts if v.status is Status.FAILED]
    errors = [v for v in verdicts if v.status is Status.ERROR]
    status = Status.FAILED if failed else Status.ERROR if errors else Status.PASSED
    observed: dict[str, Any] = {
        "expectations": len(verdicts),
        "inhibited": sum(1 for v in verdicts if v.status is Status.PASSED),
        "failed": [v.evidence["alert"] for v in failed],
        "errors": [v.evidence["alert"] for v in errors],
    }
    if not expectations:
        observed["note"] = "no experiment of the run expects an inhibition"
    return CheckResult(
        name="alerts.inhibition",
        status=status,
        expected=[
            {
                "alert": item.alert.title,
                "inhibited_by": item.source,
                "raised_within_s": item.alert.deadline_s,
                "no_notification_until_s": round_s(item.until - item.inject_at),
            }
            for item in expectations
        ],
        observed=observed,
        reason="; ".join(v.reason for v in (failed or errors)),
        attempts=observations.polls,
        evidence={"expectations": [v.evidence for v in verdicts]},
    )
