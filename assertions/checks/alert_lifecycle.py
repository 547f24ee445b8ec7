"""``alert.<title>.fired`` and ``.resolved``: one expected alert's episodes judged (pure).

``fired``: an episode matching the expectation first seen after inject, within the deadline
(latency measured two ways: first seen by polling, which decides, and Prometheus'
``startsAt``); already firing at inject is an error. ``resolved``: every episode of this fault
(firing after inject, started by the rollback) resolved within the resolve deadline of the
rollback. Absence is concluded only from a window the watcher observed without failed polls,
and lateness only when no poll failed before the alert was first seen (it may have fired
unseen): otherwise the result is an error, never a pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from assertions.backends.sink import Notification
from assertions.checks._alert_common import MAX_LISTED, Judge, episode_view, round_s
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert

__all__ = ["judge_fired", "judge_resolved"]


def _resolved_notifications(
    notifications: Sequence[Notification], expected: ExpectedAlert, since: float
) -> dict[str, float]:
    """Per integration, when its first resolved notification of the alert since ``since``
    arrived (the alert's own status counts on a webhook, not the payload's)."""
    first: dict[str, float] = {}
    for notification in sorted(notifications, key=lambda n: n.received_at_unix):
        if notification.received_at_unix < since or notification.receiver in first:
            continue
        if notification.mentions(
            expected.alertname, expected.labels, expected.label_patterns, "resolved"
        ):
            first[notification.receiver] = notification.received_at_unix
    return first


def judge_fired(judge: Judge) -> CheckResult:
    expected, inject_at = judge.expected, judge.inject_at
    deadline = expected.deadline_s
    expected_view = {
        "labels": {"alertname": expected.alertname, **expected.labels},
        "within_s": deadline,
    }
    first_poll = judge.observations.first_poll_at or 0.0
    before = [
        ep
        for ep in judge.matching
        if ep.first_seen <= inject_at and ep.active_during(inject_at, inject_at)
    ]
    new = [
        ep
        for ep in judge.matching
        if ep not in before
        and ep.first_seen >= inject_at
        and (ep.starts_at >= inject_at or ep.first_seen > first_poll)
    ]
    if new:
        episode = min(new, key=lambda ep: ep.first_seen)
        latency = episode.first_seen - inject_at
        observed = {
            "fired_after_s": round_s(latency),
            "starts_at_after_s": round_s(episode.starts_at - inject_at),
        }
        late = latency > deadline
        blind = judge.observations.errors_between(inject_at, episode.first_seen)
        if late and blind:
            return judge.result(
                "fired",
                Status.ERROR,
                expected_view,
                observed,
                f"{expected.title} was first seen {latency:.1f} s after inject, past "
                f"{deadline:g} s, but {len(blind)} polls of {judge.observations.source} failed "
                f"before that, so it may have fired in time unseen; last: {blind[-1][1]}",
                latency=latency,
                evidence={"episode": episode_view(episode)},
            )
        return judge.result(
            "fired",
            Status.FAILED if late else Status.PASSED,
            expected_view,
            observed,
            f"{expected.title} fired {latency:.1f} s after inject, later than {deadline:g} s"
            if late
            else "",
            latency=latency,
            evidence={"episode": episode_view(episode)},
        )
    if before:
        return judge.result(
            "fired",
            Status.ERROR,
            expected_view,
            {"already_firing": True},
            f"{expected.title} was already firing when the fault was injected (startsAt "
            f"{before[0].starts_at}): the run cannot show that the fault raised it",
            evidence={"episode": episode_view(before[0])},
        )
    unobserved = judge.unobserved(inject_at + deadline)
    if unobserved:
        return judge.result("fired", Status.ERROR, expected_view, {"fired": False}, unobserved)
    return judge.result(
        "fired",
        Status.FAILED,
        expected_view,
        {"fired": False},
        f"{expected.title} did not fire within {deadline:g} s of inject",
        evidence={"other_episodes": [episode_view(ep) for ep in judge.matching[:MAX_LISTED]]},
    )


def judge_resolved(
    judge: Judge,
    rollback_at: float,
    resolve_deadline_s: float,
    notifications: Sequence[Notification],
) -> CheckResult:
    title = judge.expected.title
    observations = judge.observations
    resolve_by = rollback_at + resolve_deadline_s
    expected_view = {"resolved_within_s_of_rollback": resolve_deadline_s}
    since_inject = [
        ep for ep in judge.matching if ep.resolved_at is None or ep.resolved_at >= judge.inject_at
    ]
    # an episode that starts after the rollback is a new one (the next fault, say), not this
    # fault's; it counts only when the fault's own episode started that late too
    relevant = [ep for ep in since_inject if ep.starts_at <= rollback_at] or since_inject[:1]
    still = [ep for ep in relevant if ep.resolved_at is None]
    resolved_notes = _resolved_notifications(notifications, judge.expected, rollback_at)
    evidence: dict[str, Any] = {
        "rollback_at": rollback_at,
        "resolved_notification_at": min(resolved_notes.values(), default=None),
        "resolved_notifications": resolved_notes,
    }
    if not relevant:
        unobserved = judge.unobserved(resolve_by)
        if unobserved:
            return judge.result(
                "resolved", Status.ERROR, expected_view, {"fired": False}, unobserved
            )
        return judge.result(
            "resolved",
            Status.FAILED,
            expected_view,
            {"fired": False},
            f"{title} never fired after inject, so it could not resolve",
            evidence=evidence,
        )
    if still:
        evidence["episode"] = episode_view(still[0])
        last_poll = observations.last_poll_at
        if last_poll is not None and last_poll >= resolve_by:
            return judge.result(
                "resolved",
                Status.FAILED,
                expected_view,
                {"resolved": False},
                f"{title} was still firing {resolve_deadline_s:g} s after rollback",
                evidence=evidence,
            )
        failing = observations.errors_between(last_poll or 0.0, math.inf)
        why = (
            f"{observations.source} could not be polled after that; last error: {failing[-1][1]}"
            if failing
            else f"the watcher stopped polling {observations.source} too early"
        )
        return judge.result(
            "resolved",
            Status.ERROR,
            expected_view,
            {"resolved": False},
            f"{title} was still firing at the last successful poll ({last_poll}), before "
            f"the resolve deadline: {why}",
            evidence=evidence,
        )
    resolved_at = max(ep.resolved_at for ep in relevant if ep.resolved_at is not None)
    latency = resolved_at - rollback_at
    late = latency > resolve_deadline_s
    return judge.result(
        "resolved",
        Status.FAILED if late else Status.PASSED,
        expected_view,
        {"resolved_after_rollback_s": round_s(latency)},
        f"{title} resolved {latency:.1f} s after rollback, later than {resolve_deadline_s:g} s"
        if late
        else "",
        latency=max(latency, 0.0),
        evidence=evidence,
    )
