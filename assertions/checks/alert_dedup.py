"""``alerts.dedup``: no receiver got the same notification twice within the repeat interval
(pure), and how much Alertmanager's grouping and de-duplication cut the alerts it received.

A notification is a duplicate when the previous one of the same integration and the same group
carried the same content and ``repeat_interval_s`` had not passed since: Alertmanager only
sends a group again when its firing or resolved alerts changed, or the repeat interval is over.
Group and content are, for a webhook, its ``groupKey`` and its alerts by fingerprint with their
statuses; for Slack and email (text only), the title without its ``[FIRING:n]`` prefix and the
title with the text or body. A repeat is not a duplicate when, between the two, an episode of
the group's alert began or resolved (given the watcher's ``observations``): a text receiver's
title and body name the same group the same way for every episode, and a webhook's alert
keeps its fingerprint across episodes, so the same content then reports a new episode. The
reduction is ``1 - sent / received`` from Alertmanager's
counters over the run (``alertmanager_notifications_total`` vs
``alertmanager_alerts_received_total``), which the caller reads.

What cannot be observed is an error, not a pass: counters that could not be read, and a
repeat that would be a duplicate unless an episode began or resolved in a stretch the watcher
could not poll. A duplicate found fails the check all the same.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from typing import Any

from assertions.backends.sink import Notification
from assertions.checks._alert_common import MAX_LISTED, round_s
from assertions.checks.alert_watcher import AlertObservations
from assertions.result import CheckResult, Status

__all__ = ["evaluate_dedup"]

_PREFIX = re.compile(r"^\[[^\]]*\]\s*")
_MAX_COUNTS = 50
_TAIL_SLACK_S = 5.0  # the watcher stops just before the run-level checks


def _group(notification: Notification) -> str:
    if notification.receiver == "webhook":
        return str(notification.payload.get("groupKey", ""))
    return _PREFIX.sub("", notification.title)


def _text(notification: Notification) -> str:
    payload = notification.payload
    if notification.receiver == "slack":
        attachments = payload.get("attachments") or []
        parts = [str(payload.get("text", ""))]
        parts += [str(a.get("text", "")) for a in attachments if isinstance(a, dict)]
        return "\n".join(parts)
    return str(payload.get("text") or payload.get("html") or payload.get("body") or "")


def _alertname(notification: Notification) -> str:
    if notification.receiver == "webhook":
        labels = notification.payload.get("groupLabels")
        return str(labels.get("alertname", "")) if isinstance(labels, dict) else ""
    words = _PREFIX.sub("", notification.title).split()
    return words[0] if words else ""


def _blind_between(observations: AlertObservations | None, start: float, end: float) -> bool:
    """Whether the watcher went unpolled somewhere between two notifications."""
    if observations is None:
        return False
    last = observations.last_poll_at
    return observations.longest_gap_within(start, end)[0] > 0 or (
        last is not None and last < end - _TAIL_SLACK_S
    )


def _episode_between(
    observations: AlertObservations | None, alertname: str, start: float, end: float
) -> bool:
    """Whether an episode of ``alertname`` began or resolved between two notifications."""
    if observations is None or not alertname:
        return False
    return any(
        episode.labels.get("alertname") == alertname
        and any(
            moment is not None and start < moment <= end
            for moment in (episode.starts_at, episode.first_seen, episode.resolved_at)
        )
        for episode in observations.episodes
    )


def _content(notification: Notification) -> Hashable:
    if notification.receiver == "webhook":
        return frozenset(
            (
                str(alert.get("fingerprint") or sorted(dict(alert.get("labels") or {}).items())),
                str(alert.get("status")),
            )
            for alert in notification.alerts()
        )
    return (notification.title, _text(notification))


def _counts(notifications: Sequence[Notification]) -> list[dict[str, Any]]:
    """Firing and resolved notifications per alert episode (webhook) or group (text)."""
    counts: dict[tuple[str, ...], dict[str, Any]] = {}
    for note in notifications:
        if note.receiver == "webhook":
            receiver = str(note.payload.get("receiver") or "webhook")
            for alert in note.alerts():
                labels = alert.get("labels") or {}
                fingerprint = str(alert.get("fingerprint", ""))
                starts_at = str(alert.get("startsAt", ""))
                row = counts.setdefault(
                    ("webhook", receiver, fingerprint, starts_at),
                    {
                        "integration": "webhook",
                        "receiver": receiver,
                        "alertname": labels.get("alertname") if isinstance(labels, dict) else None,
                        "fingerprint": fingerprint,
                        "starts_at": starts_at,
                        "firing": 0,
                        "resolved": 0,
                    },
                )
                status = alert.get("status")
                if status in ("firing", "resolved"):
                    row[str(status)] += 1
        else:
            row = counts.setdefault(
                (note.receiver, _group(note)),
                {"integration": note.receiver, "group": _group(note), "firing": 0, "resolved": 0},
            )
            if note.status in ("firing", "resolved"):
                row[note.status] += 1
    return list(counts.values())


def _reduction(received: float | None, sent: float | None, why: str) -> tuple[float | None, str]:
    if received is None or sent is None:
        return None, why or "alertmanager's received and sent counters were not given"
    if received <= 0:
        return None, f"alertmanager received {received:g} alerts in the run: nothing to reduce"
    return round(1 - sent / received, 4), ""


def evaluate_dedup(
    notifications: Sequence[Notification],
    repeat_interval_s: float,
    received_total: float | None,
    sent_total: float | None,
    *,
    counters_error: str = "",
    observations: AlertObservations | None = None,
) -> CheckResult:
    """``alerts.dedup`` over every receiver's ``notifications`` of the run.

    ``received_total`` / ``sent_total``: the increases over the run of
    ``alertmanager_alerts_received_total`` and ``alertmanager_notifications_total`` (None
    when unknown; ``counters_error`` says why). ``observations``: the watcher's, so that the
    same content after a new episode of the alert is not taken for a duplicate. Failed on
    any duplicate.
    """
    previous: dict[tuple[str, str], Notification] = {}
    duplicates: list[dict[str, Any]] = []
    undecided: list[dict[str, Any]] = []  # duplicates unless the watcher missed an episode
    for note in sorted(notifications, key=lambda n: n.received_at_unix):
        key = (note.receiver, _group(note))
        before = previous.get(key)
        if (
            before is not None
            and _content(before) == _content(note)
            and note.received_at_unix - before.received_at_unix < repeat_interval_s
            and not _episode_between(
                observations, _alertname(note), before.received_at_unix, note.received_at_unix
            )
        ):
            blind = _blind_between(observations, before.received_at_unix, note.received_at_unix)
            (undecided if blind else duplicates).append(
                {
                    "integration": note.receiver,
                    "group": key[1],
                    "received_at": note.received_at_unix,
                    "previous_at": before.received_at_unix,
                    "after_s": round_s(note.received_at_unix - before.received_at_unix),
                }
            )
        previous[key] = note
    reduction, note_text = _reduction(received_total, sent_total, counters_error)
    observed: dict[str, Any] = {
        "notifications": len(notifications),
        "duplicates": len(duplicates),
        "undecided": len(undecided),
        "received_total": received_total,
        "sent_total": sent_total,
        "reduction": reduction,
    }
    if note_text:
        observed["reduction_note"] = note_text
    counts = _counts(notifications)
    evidence = {
        "duplicates": duplicates[:MAX_LISTED],
        "undecided": undecided[:MAX_LISTED],
        "counts": counts[:_MAX_COUNTS],
        "counts_listed": f"{min(len(counts), _MAX_COUNTS)} of {len(counts)}",
    }
    reason, status = "", Status.PASSED
    if duplicates:
        first = duplicates[0]
        status = Status.FAILED
        reason = (
            f"{len(duplicates)} duplicate notification(s) within the repeat interval of "
            f"{repeat_interval_s:g} s; first: {first['integration']} got group {first['group']} "
            f"again {first['after_s']} s after the same notification"
        )
    else:
        unknown = []
        if undecided:
            assert observations is not None
            unknown.append(
                f"{len(undecided)} repeated notification(s) cannot be told from duplicates: "
                f"{observations.source} could not be polled between them, so a new episode may "
                f"have begun unseen; last error: {observations.last_error()}"
            )
        if counters_error:
            unknown.append(f"the reduction is unknown: {counters_error}")
        if unknown:
            status, reason = Status.ERROR, "; ".join(unknown)
    return CheckResult(
        name="alerts.dedup",
        status=status,
        expected={"duplicates": 0, "repeat_interval_s": repeat_interval_s},
        observed=observed,
        reason=reason,
        attempts=1,
        evidence=evidence,
    )
