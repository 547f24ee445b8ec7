"""What the checks' own records put on the timeline: each expected alert's life against its
deadlines, the alerts nobody expected, and the ingest-lag samples (pure functions).

Everything is read from summary.json's checks (``CheckResult.to_dict``), never recomputed:

- ``alert.<title>.fired``: the inject moment (``evidence.inject_at``), the deadline
  (``expected.within_s``), the moment the watcher first saw the alert in Alertmanager
  (``observed.fired_after_s``, what the check decides on) and Prometheus' own ``startsAt``
  (``evidence.episode.starts_at``). Pending (Prometheus' ``activeAt``, before the rule's
  ``for:``) is drawn when the episode records it (``active_at``): Alertmanager never sees a
  pending alert, so a run that polls only Alertmanager has none.
- ``alert.<title>.notified.<receiver>``: the first firing notification that receiver got
  (``evidence.received_at``); a receiver judged from Alertmanager's counters has no moment.
- ``alert.<title>.resolved``: the rollback (``evidence.rollback_at``), the resolve deadline
  (``expected.resolved_within_s_of_rollback``), the resolution
  (``observed.resolved_after_rollback_s``) and each receiver's resolved notification.
- ``alerts.noise``: critical alerts nobody expected (paged, inhibited, or delivery unknown);
  ``alerts.quality``: alerts of any severity that began in a fault window unexpected.
- ``traces.ingest_lag`` / ``logs.ingest_lag``: p50 / p95 / max and the deadline, plus the
  samples themselves when the evidence lists them (``samples``: ``{ended, lag_s}`` each).

Times are seconds since ``origin`` (the run's start). Values of the wrong type are skipped,
so a record written by another version of chaosgate draws what it can.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assertions.checks.alert_check_names import parse_alert_check_name
from assertions.result import CheckResult, Status

__all__ = [
    "AlertLifecycle",
    "IngestLag",
    "UnexpectedAlert",
    "alert_lifecycles",
    "ingest_lags",
    "number",
    "unexpected_alerts",
]


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None when it is no number (bools are no numbers)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _get(record: Any, *keys: str) -> Any:
    """``record[k1][k2]...``, or None as soon as a level is no mapping or lacks the key."""
    for key in keys:
        if not isinstance(record, Mapping):
            return None
        record = record.get(key)
    return record


def _since(origin: float, at: Any) -> float | None:
    moment = number(at)
    return None if moment is None else moment - origin


def _plus(base: float | None, offset: Any) -> float | None:
    step = number(offset)
    return None if base is None or step is None else base + step


@dataclass(frozen=True)
class AlertLifecycle:
    """One expected alert of one fault, in seconds since the run's start (None: not known)."""

    title: str  # the expectation's title, e.g. "UsersServiceDown{service=users}"
    alertname: str
    inject_s: float | None = None
    deadline_s: float | None = None  # inject + within_s: firing and notifications due by then
    pending_s: float | None = None  # Prometheus' activeAt, when the episode records it
    starts_s: float | None = None  # Prometheus' startsAt: the rule began firing
    seen_s: float | None = None  # first seen in Alertmanager (what alert.*.fired judges)
    notified_s: Mapping[str, float] = field(default_factory=dict)  # receiver -> first firing
    rollback_s: float | None = None
    resolve_deadline_s: float | None = None
    resolved_s: float | None = None
    resolved_notified_s: Mapping[str, float] = field(default_factory=dict)
    # check suffix ("fired", "notified.slack", "resolved") -> (status, reason)
    checks: Mapping[str, tuple[Status, str]] = field(default_factory=dict)

    @property
    def status(self) -> Status:
        """The worst status of its checks (error above failed above passed)."""
        statuses = {status for status, _ in self.checks.values()}
        for worst in (Status.ERROR, Status.FAILED):
            if worst in statuses:
                return worst
        return Status.PASSED


def _alertname(title: str) -> str:
    return title.split("{", 1)[0]


def _fired(life: dict[str, Any], check: CheckResult, origin: float) -> None:
    inject = _since(origin, check.evidence.get("inject_at"))
    episode = check.evidence.get("episode")
    life["inject_s"] = inject
    life["deadline_s"] = _plus(inject, _get(check.expected, "within_s"))
    life["seen_s"] = _plus(inject, _get(check.observed, "fired_after_s"))
    life["starts_s"] = _since(origin, _get(episode, "starts_at"))
    life["pending_s"] = _since(origin, _get(episode, "active_at"))
    if life["seen_s"] is None:  # an error result may still hold the episode it saw
        life["seen_s"] = _since(origin, _get(episode, "first_seen"))
    if life.get("resolved_s") is None:
        life["resolved_s"] = _since(origin, _get(episode, "resolved_at"))


def _resolved(life: dict[str, Any], check: CheckResult, origin: float) -> None:
    rollback = _since(origin, check.evidence.get("rollback_at"))
    life["rollback_s"] = rollback
    life["resolve_deadline_s"] = _plus(
        rollback, _get(check.expected, "resolved_within_s_of_rollback")
    )
    resolved = _plus(rollback, _get(check.observed, "resolved_after_rollback_s"))
    if resolved is not None:
        life["resolved_s"] = resolved
    notes = check.evidence.get("resolved_notifications")
    if isinstance(notes, Mapping):
        life["resolved_notified_s"] = {
            str(receiver): at
            for receiver, moment in notes.items()
            if (at := _since(origin, moment)) is not None
        }
    if life.get("inject_s") is None:
        life["inject_s"] = _since(origin, check.evidence.get("inject_at"))


def alert_lifecycles(checks: Sequence[CheckResult], origin: float) -> list[AlertLifecycle]:
    """One lifecycle per expected alert of a fault, in the order of their first check."""
    lives: dict[str, dict[str, Any]] = {}
    for check in checks:
        name = parse_alert_check_name(check.name)
        if name is None:
            continue
        title, what = name.title, name.stage
        life = lives.setdefault(
            title,
            {"title": title, "alertname": _alertname(title), "checks": {}, "notified_s": {}},
        )
        life["checks"][what] = (check.status, check.reason)
        if what == "fired":
            _fired(life, check, origin)
        elif what == "resolved":
            _resolved(life, check, origin)
        elif name.receiver is not None:  # "notified" alone: routed nowhere, no moment
            at = _since(origin, check.evidence.get("received_at"))
            if at is not None:
                life["notified_s"][name.receiver] = at
    return [AlertLifecycle(**life) for life in lives.values()]


@dataclass(frozen=True)
class UnexpectedAlert:
    """An alert episode no experiment expected, in seconds since the run's start."""

    alertname: str
    labels: Mapping[str, str]
    kind: str  # "paged", "inhibited", "inhibited, delivery unknown", "in a fault window"
    start_s: float
    end_s: float | None  # None: still firing when the run ended
    check: str  # the check that listed it


_NOISE_LISTS = (
    ("alerts", "paged"),
    ("inhibited", "inhibited"),
    ("inhibited_delivery_unknown", "inhibited, delivery unknown"),
)


def _episode(record: Any, kind: str, check: str, origin: float) -> UnexpectedAlert | None:
    labels = _get(record, "labels")
    start = _since(origin, _get(record, "starts_at"))
    if not isinstance(labels, Mapping) or start is None:
        return None
    return UnexpectedAlert(
        alertname=str(labels.get("alertname", "?")),
        labels={str(k): str(v) for k, v in labels.items()},
        kind=kind,
        start_s=start,
        end_s=_since(origin, _get(record, "resolved_at")),
        check=check,
    )


def unexpected_alerts(checks: Sequence[CheckResult], origin: float) -> list[UnexpectedAlert]:
    """``alerts.noise``'s episodes, then ``alerts.quality``'s others (each episode once)."""
    found: list[UnexpectedAlert] = []
    seen: set[tuple[Any, ...]] = set()

    def add(record: Any, kind: str, check: str) -> None:
        episode = _episode(record, kind, check, origin)
        key = (_get(record, "fingerprint"), _get(record, "starts_at"))
        if episode is not None and key not in seen:
            seen.add(key)
            found.append(episode)

    for check in checks:
        if check.name == "alerts.noise":
            for key, kind in _NOISE_LISTS:
                for record in _as_list(check.evidence.get(key)):
                    add(record, kind, check.name)
    for check in checks:
        if check.name == "alerts.quality":
            for record in _as_list(check.evidence.get("unexpected")):
                add(record, "in a fault window", check.name)
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class IngestLag:
    """One backend's live ingest-lag check (``traces`` or ``logs``)."""

    backend: str
    check: str
    status: Status
    deadline_s: float | None
    p50_s: float | None
    p95_s: float | None
    max_s: float | None
    samples: tuple[tuple[float, float], ...] = ()  # (request end since start, lag s)


def ingest_lags(checks: Sequence[CheckResult], origin: float) -> list[IngestLag]:
    """The ``traces.ingest_lag`` and ``logs.ingest_lag`` checks, in that order."""
    by_name = {check.name: check for check in checks}
    lags = []
    for backend in ("traces", "logs"):
        check = by_name.get(f"{backend}.ingest_lag")
        if check is None:
            continue
        samples = []
        for record in _as_list(check.evidence.get("samples")):
            ended = _since(origin, _get(record, "ended"))
            lag = number(_get(record, "lag_s"))
            if ended is not None and lag is not None:
                samples.append((ended, lag))
        lags.append(
            IngestLag(
                backend=backend,
                check=check.name,
                status=check.status,
                deadline_s=number(_get(check.expected, "found_within_s")),
                p50_s=number(_get(check.observed, "lag_s", "p50")),
                p95_s=number(_get(check.observed, "lag_s", "p95")),
                max_s=number(_get(check.observed, "lag_s", "max")),
                samples=tuple(sorted(samples)),
            )
        )
    return lags
