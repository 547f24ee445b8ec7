"""``alert.<title>.notified.<integration>``: the expected alert reached each integration it is
routed to (pure).

An integration chaosgate reads (the sink records webhook, Slack and email notifications) is
judged per alert: the first firing notification that integration received after inject that
mentions the alert (:meth:`~assertions.backends.sink.Notification.mentions`), its latency
from inject measured, failed past the deadline. An integration chaosgate cannot read is judged
from Alertmanager's own counters over [inject, inject + deadline]: the increases of
``alertmanager_notifications_total`` and ``alertmanager_notifications_failed_total`` for that
integration, passed when at least one notification was sent and none failed. That says the
integration worked in the window, not that this alert reached it; the result says so.

A Slack message or mail carries no alert data, only Alertmanager's title: the group labels'
values and, in parentheses, the labels common to the notification's alerts. A label outside
the route's ``group_by`` may differ between a group's alerts and is then not in the title; when
the caller passes ``group_by``, titles are matched on the alertname and the expected labels
among it only (the evidence says which).

An alert routed to no integration at all is one failed ``alert.<title>.notified``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from assertions.backends.sink import INTEGRATIONS, Notification
from assertions.checks._alert_common import Judge, round_s
from assertions.result import CheckResult, Status

__all__ = ["COUNTERS_BASIS", "Counters", "evaluate_delivery"]

# integration -> (notifications sent, notifications failed) increases over the window;
# None: they could not be read
Counters = Mapping[str, tuple[float, float] | None]

COUNTERS_BASIS = (
    "judged from alertmanager's counters (alertmanager_notifications_total and "
    "alertmanager_notifications_failed_total) for the integration, not per alert"
)


def evaluate_delivery(
    judge: Judge,
    notifications: Sequence[Notification],
    *,
    routed: Sequence[str],
    readable: Collection[str] = INTEGRATIONS,
    counters: Counters | None = None,
    sink_error: str = "",
    group_by: Sequence[str] | None = None,
) -> list[CheckResult]:
    """One ``notified.<integration>`` result per integration in ``routed`` (order kept, each
    once): from ``notifications`` when ``readable`` holds it, else from ``counters``.
    ``group_by``: the labels the alert's route groups by (None: match titles on every
    expected label)."""
    integrations = tuple(dict.fromkeys(routed))
    if not integrations:
        return [
            judge.result(
                "notified",
                Status.FAILED,
                {"routed_to": "at least one integration"},
                {"routed_to": []},
                f"{judge.expected.title} is routed to no receiver with an integration in "
                "alertmanager's config, so no notification of it can be sent; route it to one",
                attempts=1,
            )
        ]
    return [
        _from_sink(judge, integration, notifications, sink_error, group_by)
        if integration in readable
        else _from_counters(judge, integration, readable, counters)
        for integration in integrations
    ]


def _title_labels(judge: Judge, group_by: Sequence[str] | None) -> dict[str, str]:
    labels = judge.expected.labels
    if group_by is None or "..." in group_by:
        return dict(labels)
    return {name: value for name, value in labels.items() if name in group_by}


def _first_firing(
    judge: Judge, integration: str, notifications: Sequence[Notification], labels: Mapping[str, str]
) -> tuple[Notification | None, int]:
    expected = judge.expected
    own = [n for n in notifications if n.receiver == integration]
    for notification in sorted(own, key=lambda n: n.received_at_unix):
        if notification.received_at_unix >= judge.inject_at and notification.mentions(
            expected.alertname, labels, expected.label_patterns, "firing"
        ):
            return notification, len(own)
    return None, len(own)


def _from_sink(
    judge: Judge,
    integration: str,
    notifications: Sequence[Notification],
    sink_error: str,
    group_by: Sequence[str] | None,
) -> CheckResult:
    expected, deadline = judge.expected, judge.expected.deadline_s
    suffix = f"notified.{integration}"
    expected_view = {"integration": integration, "status": "firing", "within_s": deadline}
    if sink_error:
        return judge.result(
            suffix,
            Status.ERROR,
            expected_view,
            None,
            sink_error,
            evidence={"judged_from": "sink"},
            attempts=1,
        )
    labels = dict(expected.labels) if integration == "webhook" else _title_labels(judge, group_by)
    note, read = _first_firing(judge, integration, notifications, labels)
    evidence: dict[str, Any] = {"judged_from": "sink", "notifications_read": read}
    if integration != "webhook":
        evidence["title_labels"] = labels
    if note is None:
        return judge.result(
            suffix,
            Status.FAILED,
            expected_view,
            {"notified": False},
            f"no firing notification of {expected.title} reached {integration} after inject",
            evidence=evidence,
            attempts=1,
        )
    latency = note.received_at_unix - judge.inject_at
    late = latency > deadline
    if note.title:
        evidence["title"] = note.title
    return judge.result(
        suffix,
        Status.FAILED if late else Status.PASSED,
        expected_view,
        {"notified_after_s": round_s(latency)},
        f"the firing notification reached {integration} {latency:.1f} s after inject, later "
        f"than {deadline:g} s"
        if late
        else "",
        latency=latency,
        evidence={**evidence, "received_at": note.received_at_unix},
        attempts=1,
    )


def _from_counters(
    judge: Judge, integration: str, readable: Collection[str], counters: Counters | None
) -> CheckResult:
    start, end = judge.inject_at, judge.inject_at + judge.expected.deadline_s
    suffix = f"notified.{integration}"
    expected_view = {
        "integration": integration,
        "sent": ">= 1",
        "failed": 0,
        "window": [start, end],
    }
    evidence = {"judged_from": "alertmanager_counters", "basis": COUNTERS_BASIS}
    if counters is None or integration not in counters:
        why = (
            "no reader of alertmanager's counters was given"
            if counters is None
            else "alertmanager's counters for the window were not read yet"
        )
        return judge.result(
            suffix,
            Status.ERROR,
            expected_view,
            None,
            f"chaosgate cannot read {integration} notifications (the sink records "
            f"{', '.join(sorted(readable)) or 'none'}) and {why}",
            evidence=evidence,
            attempts=0,
        )
    increases = counters[integration]
    if increases is None:
        return judge.result(
            suffix,
            Status.ERROR,
            expected_view,
            None,
            f"alertmanager's notification counters for {integration} could not be read from "
            "prometheus, and chaosgate cannot read that integration itself",
            evidence=evidence,
            attempts=1,
        )
    sent, failed = increases
    observed = {
        "judged_from": "alertmanager_counters",
        "sent": round_s(sent),
        "failed": round_s(failed),
    }
    problems = []
    if not sent > 0:
        problems.append(f"alertmanager sent no {integration} notification")
    if failed > 0:
        problems.append(f"{failed:g} {integration} notification(s) failed")
    reason = ""
    if problems:
        reason = (
            f"{' and '.join(problems)} in the {judge.expected.deadline_s:g} s after inject "
            f"({COUNTERS_BASIS})"
        )
    return judge.result(
        suffix,
        Status.FAILED if problems else Status.PASSED,
        expected_view,
        observed,
        reason,
        evidence=evidence,
        attempts=1,
    )
