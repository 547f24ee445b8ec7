"""Watching Alertmanager during a run: every firing episode, when it appeared and resolved.

An :class:`AlertWatcher` polls Alertmanager (every 0.5 s by default, in its own daemon thread)
and records each firing *episode*, an alert fingerprint with one ``startsAt``: when polling
first saw it, Prometheus' ``startsAt``, when it was last seen, and when a successful poll first
no longer listed it (resolved: Alertmanager drops an alert as soon as it resolves; seen on
0.25). Failed polls are recorded with their time, never raised, and so is each *gap*: the
stretch from the last successful poll before a failure to the next successful one, in which
the watcher saw nothing. :meth:`observations` hands out an immutable snapshot for the pure
judging in :mod:`assertions.checks.alerts`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.errors import BackendError
from chaosgate.vocabulary import Clock

__all__ = ["AlertEpisode", "AlertObservations", "AlertWatcher"]

_MAX_ERRORS = 200
_MAX_GAPS = 200


@dataclass(frozen=True)
class AlertEpisode:
    """One firing of one alert, as polling saw it (times are unix seconds)."""

    fingerprint: str
    labels: Mapping[str, str]
    starts_at: float  # Prometheus' startsAt
    first_seen: float  # the poll that first listed it
    last_seen: float  # the last poll that listed it
    ends_at: float | None  # Alertmanager's endsAt at the last sighting
    state: str  # active / suppressed / unprocessed at the last sighting
    resolved_at: float | None = None  # the first successful poll that no longer listed it
    inhibited_by: tuple[str, ...] = ()  # every inhibiting fingerprint any poll saw
    suppressed_polls: int = 0  # polls that saw it suppressed (inhibited or silenced)
    active_polls: int = 0  # polls that saw it active (not suppressed: it may notify)

    def active_during(self, start: float, end: float) -> bool:
        return self.first_seen <= end and (self.resolved_at is None or self.resolved_at >= start)


@dataclass(frozen=True)
class AlertObservations:
    episodes: tuple[AlertEpisode, ...] = ()
    first_poll_at: float | None = None  # first successful poll
    last_poll_at: float | None = None  # last successful poll
    polls: int = 0  # every poll, failed ones included
    errors: tuple[tuple[float, str], ...] = ()  # (time, BackendError message)
    # stretches without a successful poll: (the last success before the failures, or the
    # first failure when nothing had succeeded yet; the next success, None while failing)
    gaps: tuple[tuple[float, float | None], ...] = ()
    source: str = "alertmanager"  # what was polled, for messages: "alertmanager at <url>"

    def observed_until(self, moment: float) -> bool:
        return (
            self.first_poll_at is not None
            and self.last_poll_at is not None
            and self.first_poll_at <= moment <= self.last_poll_at
        )

    def errors_between(self, start: float, end: float) -> list[tuple[float, str]]:
        return [(at, message) for at, message in self.errors if start <= at <= end]

    def last_error(self) -> str:
        return self.errors[-1][1] if self.errors else "none recorded (a poll may be waiting)"

    def longest_gap_within(self, start: float, end: float) -> tuple[float, float, float | None]:
        """The longest stretch of ``[start, end]`` without a successful poll, as (seconds,
        gap start, gap end); (0, start, start) when there is none."""
        best: tuple[float, float, float | None] = (0.0, start, start)
        for gap_start, gap_end in self.gaps:
            stop = end if gap_end is None else min(gap_end, end)
            length = stop - max(gap_start, start)
            if length > best[0]:
                best = (length, gap_start, gap_end)
        return best


class AlertWatcher:
    """Polls Alertmanager in a daemon thread between :meth:`start` and :meth:`stop`.

    :meth:`poll_once` is the single poll the thread repeats (tests call it with a fake clock).
    """

    def __init__(
        self,
        backend: AlertmanagerBackend,
        *,
        interval_s: float = 0.5,
        clock: Clock = time.time,
        filters: Sequence[str] = (),
    ) -> None:
        self._backend = backend
        self._interval_s = interval_s
        self._clock = clock
        self._filters = tuple(filters)
        self._lock = threading.Lock()
        self._episodes: dict[tuple[str, float], AlertEpisode] = {}
        self._first_poll_at: float | None = None
        self._last_poll_at: float | None = None
        self._polls = 0
        self._errors: list[tuple[float, str]] = []
        self._gaps: list[tuple[float, float | None]] = []
        self._gap_start: float | None = None
        self._source = f"{backend.name} at {backend.url}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll_once(self) -> None:
        """Ask Alertmanager once and fold the answer into the episodes."""
        try:
            alerts = self._backend.alerts(active=True, filters=self._filters)
        except BackendError as exc:
            self._record_error(str(exc))
            return
        now = self._clock()
        with self._lock:
            self._polls += 1
            present: set[tuple[str, float]] = set()
            for alert in alerts:
                key = (alert.fingerprint, alert.starts_at)
                present.add(key)
                known = self._episodes.get(key)
                self._episodes[key] = AlertEpisode(
                    fingerprint=alert.fingerprint,
                    labels=dict(alert.labels),
                    starts_at=alert.starts_at,
                    first_seen=known.first_seen if known else now,
                    last_seen=now,
                    ends_at=alert.ends_at,
                    state=alert.state,
                    resolved_at=None,
                    inhibited_by=tuple(
                        dict.fromkeys((*(known.inhibited_by if known else ()), *alert.inhibited_by))
                    ),
                    suppressed_polls=(known.suppressed_polls if known else 0)
                    + (alert.state == "suppressed"),
                    active_polls=(known.active_polls if known else 0) + (alert.state == "active"),
                )
            for key, episode in self._episodes.items():
                if key not in present and episode.resolved_at is None:
                    self._episodes[key] = dataclasses.replace(episode, resolved_at=now)
            if self._first_poll_at is None:
                self._first_poll_at = now
            self._last_poll_at = now
            if self._gap_start is not None:
                self._gaps.append((self._gap_start, now))
                del self._gaps[:-_MAX_GAPS]
                self._gap_start = None

    def _record_error(self, message: str) -> None:
        at = self._clock()
        with self._lock:
            self._polls += 1
            self._errors.append((at, message))
            del self._errors[:-_MAX_ERRORS]
            if self._gap_start is None:
                self._gap_start = self._last_poll_at if self._last_poll_at is not None else at

    def observations(self) -> AlertObservations:
        """A consistent snapshot; safe to call while the thread runs."""
        with self._lock:
            episodes = sorted(self._episodes.values(), key=lambda e: (e.first_seen, e.starts_at))
            return AlertObservations(
                episodes=tuple(episodes),
                first_poll_at=self._first_poll_at,
                last_poll_at=self._last_poll_at,
                polls=self._polls,
                errors=tuple(self._errors),
                gaps=(
                    tuple(self._gaps)
                    if self._gap_start is None
                    else (*self._gaps, (self._gap_start, None))
                ),
                source=self._source,
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # the thread must outlive any surprise; record it
                self._record_error(f"unexpected {type(exc).__name__}: {exc}")
            self._stop.wait(self._interval_s)

    def start(self) -> AlertWatcher:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="alert-watcher", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def __enter__(self) -> AlertWatcher:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
