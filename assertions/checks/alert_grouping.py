"""``alerts.grouping``: Alertmanager grouped the alerts the way its route says (pure).

Judged over the webhook notifications, the only ones that carry their alerts as data: every
notification's alerts have the route's ``group_by`` labels equal to its ``groupLabels`` (so no
two groups were mixed), one ``groupKey`` keeps one set of group labels, and the alerts of a
group that started together arrived in that group's one first firing notification.

"Together" is counted in the system's favour: Alertmanager sends a new group's first
notification ``group_wait`` after the first alert *arrived*, and each alert arrives up to about
an evaluation interval after its ``startsAt`` (Prometheus sends after evaluating), so alerts
must share the first notification only when they started at most ``group_wait_s - slack_s``
apart (those of one evaluation at least). A group's life starts with its first notification,
or anew after a notification in which none of its alerts was firing (the group emptied).

Slack and email carry text: with the watcher's episodes, the alerts of a group that started
together when the group's earlier alerts had all resolved must be counted in the ``[FIRING:N]``
of its first firing title on each receiver; alerts ever seen suppressed are not required, nor
those started after that notification or last seen before it (resolved by then). That part
needs the watcher to have seen the whole run: when it did not (Alertmanager failing or
hanging for a while), the check is an error unless a problem was found anyway.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assertions.backends.alertmanager import parse_timestamp
from assertions.backends.sink import Notification
from assertions.checks._alert_common import MAX_LISTED, round_s, unwatched
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import CheckResult, Status

__all__ = ["evaluate_grouping"]

GROUP_BY_ALL = "..."
TEXT_RECEIVERS = ("slack", "email")


@dataclass(frozen=True)
class _Alert:
    fingerprint: str
    labels: Mapping[str, str]
    status: str
    starts_at: float


@dataclass(frozen=True)
class _Sent:
    received_at: float
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[_Alert, ...]

    @property
    def firing(self) -> tuple[_Alert, ...]:
        return tuple(alert for alert in self.alerts if alert.status == "firing")


def _parse(notification: Notification) -> _Sent:
    """The webhook payload's grouping fields; ValueError naming what is missing."""
    payload = notification.payload
    key, labels = payload.get("groupKey"), payload.get("groupLabels")
    if not isinstance(key, str) or not isinstance(labels, dict):
        raise ValueError(
            f"the webhook notification received at {notification.received_at_unix} has no "
            f"groupKey or groupLabels (keys: {sorted(payload)!r})"
        )
    alerts = []
    for item in notification.alerts():
        item_labels = item.get("labels")
        try:
            starts_at = parse_timestamp(str(item.get("startsAt", "")))
        except ValueError:
            starts_at = None
        if not isinstance(item_labels, dict) or starts_at is None:
            raise ValueError(
                f"an alert of the webhook notification received at "
                f"{notification.received_at_unix} has no labels or startsAt: {item!r}"[:300]
            )
        labels_text = {str(k): str(v) for k, v in item_labels.items()}
        fingerprint = str(item.get("fingerprint") or sorted(labels_text.items()))
        alerts.append(_Alert(fingerprint, labels_text, str(item.get("status")), starts_at))
    return _Sent(
        notification.received_at_unix,
        key,
        {str(k): str(v) for k, v in labels.items()},
        tuple(alerts),
    )


def _projection(labels: Mapping[str, str], group_by: Sequence[str]) -> dict[str, str]:
    if GROUP_BY_ALL in group_by:
        return dict(labels)
    return {name: labels[name] for name in group_by if name in labels}


def _name(alert: _Alert) -> str:
    return alert.labels.get("alertname", alert.fingerprint)


def _mixing(sent: Sequence[_Sent], group_by: Sequence[str]) -> list[str]:
    problems: list[str] = []
    labels_of_key: dict[str, Mapping[str, str]] = {}
    for note in sent:
        for alert in note.alerts:
            own = _projection(alert.labels, group_by)
            if own != dict(note.group_labels):
                problems.append(
                    f"group {note.group_key} (groupLabels {dict(note.group_labels)}) carried "
                    f"{_name(alert)} whose group_by labels are {own}"
                )
        known = labels_of_key.setdefault(note.group_key, note.group_labels)
        if dict(known) != dict(note.group_labels):
            problems.append(
                f"group {note.group_key} changed its groupLabels from {dict(known)} to "
                f"{dict(note.group_labels)}"
            )
    return problems


def _split_lives(sent: Sequence[_Sent]) -> list[list[_Sent]]:
    """One group's notifications, oldest first, cut where a notification had nothing firing."""
    lives: list[list[_Sent]] = []
    for note in sent:
        if not lives or not lives[-1][-1].firing:
            lives.append([])
        lives[-1].append(note)
    return lives


def _late_together(life: Sequence[_Sent], together_s: float) -> list[str]:
    first = life[0]
    if not first.firing:
        return []
    in_first = {(a.fingerprint, a.starts_at) for a in first.firing}
    start = min(a.starts_at for a in first.firing)
    problems, reported = [], set()
    for note in life[1:]:
        for alert in note.firing:
            key = (alert.fingerprint, alert.starts_at)
            if key in in_first or key in reported or alert.starts_at - start > together_s:
                continue
            reported.add(key)
            problems.append(
                f"group {first.group_key}: {_name(alert)} ({alert.fingerprint}) started "
                f"{round_s(alert.starts_at - start)} s after the group's first alert but came "
                f"{round_s(note.received_at - first.received_at)} s after the group's first "
                "notification instead of in it"
            )
    return problems


@dataclass(frozen=True)
class _Batch:
    """The alerts of one group that started together at the start of the group's life."""

    group: Mapping[str, str]  # its group_by labels, as Alertmanager's groupLabels has them
    start: float
    members: tuple[AlertEpisode, ...]  # never seen suppressed


def _batches(
    observations: AlertObservations, group_by: Sequence[str], together_s: float
) -> list[_Batch]:
    by_key: dict[tuple[tuple[str, str], ...], list[AlertEpisode]] = {}
    for ep in sorted(observations.episodes, key=lambda e: e.starts_at):
        names = sorted(ep.labels) if GROUP_BY_ALL in group_by else group_by
        by_key.setdefault(tuple((n, ep.labels.get(n, "")) for n in names), []).append(ep)
    batches = []
    for episodes in by_key.values():
        busy_until = -math.inf  # until when an earlier alert of the group was firing
        for ep in episodes:
            members = tuple(
                e
                for e in episodes
                if 0 <= e.starts_at - ep.starts_at <= together_s and not e.suppressed_polls
            )
            if ep.starts_at > busy_until and len(members) >= 2:
                batches.append(_Batch(_projection(ep.labels, group_by), ep.starts_at, members))
            busy_until = max(busy_until, math.inf if ep.resolved_at is None else ep.resolved_at)
    return batches


def _first_titled(texts: Sequence[Notification], batch: _Batch) -> Notification | None:
    """The first of ``texts`` after the batch started whose title lists the group's values
    (sorted by label name, as the default title does) and then nothing or ``(``."""
    values = " ".join(value for _, value in sorted(batch.group.items()))
    for note in texts:
        rest = note.title.split("]", 1)[-1].strip()
        if note.received_at_unix >= batch.start and (rest + " (").startswith(values + " ("):
            return note
    return None


def _text_grouping(
    notifications: Sequence[Notification], batches: Sequence[_Batch], observed: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Judges each batch on each text receiver into ``observed``; its evidence and problems."""
    judged, largest = dict.fromkeys(TEXT_RECEIVERS, 0), 0
    views: list[dict[str, Any]] = []
    problems: list[str] = []
    firing = sorted(
        (n for n in notifications if n.status == "firing"), key=lambda n: n.received_at_unix
    )
    for batch in batches:
        seen: dict[str, Any] = {}
        for receiver in TEXT_RECEIVERS:
            first = _first_titled([n for n in firing if n.receiver == receiver], batch)
            if first is None:
                continue
            at = first.received_at_unix
            due = sum(1 for e in batch.members if e.starts_at <= at <= e.last_seen)
            count = first.firing_count or 0
            seen[receiver] = {"title": first.title, "firing_count": count, "required": due}
            if due < 2:
                continue
            judged[receiver] += 1
            largest = max(largest, due)
            if count < due:
                after = round_s(first.received_at_unix - batch.start)
                problems.append(
                    f"group {dict(batch.group)}: the first {receiver} notification after its "
                    f"{due} alerts started together ({after} s after) reported {count} firing "
                    f"({first.title!r}) instead of {due}"
                )
        alerts = [e.fingerprint for e in batch.members]
        views.append(
            {"group": dict(batch.group), "started_at": batch.start, "alerts": alerts, **seen}
        )
    observed["text_receivers_groups"] = judged
    observed["largest_group"] = max(observed["largest_group"], largest)
    observed["exercised"] = observed["exercised"] or largest >= 2
    return views, problems


def evaluate_grouping(
    notifications: Sequence[Notification],
    group_by: Sequence[str],
    group_wait_s: float,
    *,
    slack_s: float = 1.0,
    observations: AlertObservations | None = None,
    window: tuple[float, float] | None = None,
    coverage_slack_s: float = 5.0,
) -> CheckResult:
    """``alerts.grouping`` over the webhook ``notifications`` of the run, for the route's
    ``group_by`` and ``group_wait_s`` (:class:`~assertions.checks.alert_routing.Route`).

    With the watcher's ``observations`` also the Slack and email ones, by the count in their
    title only (Alertmanager's default title); a group without a text notification is listed
    in the evidence, not judged (delivery checks judge absence); given the run's ``window``
    too, an error when the watcher did not observe all of it (give or take
    ``coverage_slack_s``). Passes with ``exercised`` false, and a note, when no group of two
    or more alerts was judged.
    """
    together_s = max(group_wait_s - slack_s, 0.0)
    expected = {"group_by": list(group_by), "group_wait_s": group_wait_s}
    expected["first_notification_holds_alerts_started_within_s"] = together_s
    webhooks = sorted(
        (n for n in notifications if n.receiver == "webhook"), key=lambda n: n.received_at_unix
    )
    try:
        sent = [_parse(n) for n in webhooks]
    except ValueError as exc:
        return CheckResult("alerts.grouping", Status.ERROR, expected, None, str(exc))
    by_key: dict[str, list[_Sent]] = {}
    for note in sent:
        by_key.setdefault(note.group_key, []).append(note)
    lives = [life for notes in by_key.values() for life in _split_lives(notes)]
    sizes = {
        key: len({a.fingerprint for n in notes for a in n.alerts}) for key, notes in by_key.items()
    }
    largest = max(sizes.values(), default=0)
    observed: dict[str, Any] = {
        "notifications": len(sent),
        "groups": len(by_key),
        "alerts": len({a.fingerprint for n in sent for a in n.alerts}),
        "first_notifications": len(lives),
        "largest_group": largest,
        "exercised": largest >= 2,
    }
    problems = _mixing(sent, group_by)
    for life in lives:
        problems += _late_together(life, together_s)
    evidence: dict[str, Any] = {
        "groups": {key: size for key, size in sorted(sizes.items())[:MAX_LISTED]}
    }
    if observations is not None:
        batches = _batches(observations, group_by, together_s)
        views, text_problems = _text_grouping(notifications, batches, observed)
        problems += text_problems
        evidence["text_groups"] = views[:MAX_LISTED]
        unseen = [v["group"] for v in views if not any(r in v for r in TEXT_RECEIVERS)]
        evidence["text_groups_without_notification"] = unseen[:MAX_LISTED]
    evidence["problems"] = problems[:MAX_LISTED]
    if problems:
        return CheckResult(
            "alerts.grouping",
            Status.FAILED,
            expected,
            observed,
            f"{len(problems)} grouping problem(s); first: {problems[0]}",
            attempts=1,
            evidence=evidence,
        )
    blind = (
        unwatched(observations, window[0], window[1], coverage_slack_s)
        if observations is not None and window is not None
        else ""
    )
    if blind:
        return CheckResult(
            "alerts.grouping",
            Status.ERROR,
            expected,
            observed,
            f"the Slack and email grouping cannot be judged: {blind}",
            attempts=1,
            evidence=evidence,
        )
    if not observed["exercised"]:
        observed["note"] = (
            "no group held two or more alerts in this run: grouping of several alerts was "
            "not exercised"
        )
    return CheckResult(
        "alerts.grouping", Status.PASSED, expected, observed, attempts=1, evidence=evidence
    )
