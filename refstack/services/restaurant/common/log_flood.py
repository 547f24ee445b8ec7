"""A log flood: the service writes ``lines_per_s`` log lines a second through its own logger.

The ``log_lines_per_s`` admin fault (refstack/CONTRACT.md) starts it: a thread writes, every
``TICK_S``, the lines due since the flood began (so the rate holds however long one tick's
writing takes), each through the service's own logger, formatter and file handler — the same
JSON object a request's line is, with a fresh trace id and span id and the request id
``flood-<flood id>-<n>``, so the shipper and the store see nothing they would not see from a
busy service. Setting the fault to 0 (or clearing the faults) stops it; :meth:`LogFlood.stats`
says what the last flood wrote, which a check compares with what reached the store.
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from restaurant.common.runtime import Runtime

__all__ = ["FLOOD_IDS", "TICK_S", "FloodStats", "LineIds", "LogFlood"]

TICK_S = 0.05
FLOOD_IDS = "ids"  # the LogRecord attribute the JSON formatter takes a line's ids from


@dataclass(frozen=True)
class LineIds:
    """The ids a flood line carries instead of the current request's."""

    trace_id: str
    span_id: str
    request_id: str


@dataclass(frozen=True)
class FloodStats:
    flood_id: str  # "" before the first flood
    lines_per_s: int  # 0 once stopped
    emitted: int  # lines handed to the logger
    started_at: float | None  # wall time (the runtime's clock)
    stopped_at: float | None  # None while it runs

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class LogFlood:
    """One flood at a time; :meth:`set` starts, re-rates or (with 0) stops it."""

    def __init__(self, logger: logging.Logger, runtime: Runtime) -> None:
        self._logger = logger
        self._runtime = runtime
        self._lock = threading.Lock()
        self._stats = FloodStats("", 0, 0, None, None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def stats(self) -> FloodStats:
        with self._lock:
            return self._stats

    def set(self, lines_per_s: int) -> None:
        if lines_per_s == self.stats().lines_per_s:
            return
        self._halt()
        if lines_per_s <= 0:
            return
        flood_id = uuid.uuid4().hex[:12]
        with self._lock:
            self._stats = FloodStats(flood_id, lines_per_s, 0, self._runtime.clock(), None)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(flood_id, lines_per_s, self._stop), daemon=True
        )
        self._thread.start()
        self._logger.warning("log flood %s: %d lines a second", flood_id, lines_per_s)

    def close(self) -> None:
        self._halt()

    def _halt(self) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout=5)
        with self._lock:
            stats = self._stats
            self._stats = FloodStats(
                stats.flood_id, 0, stats.emitted, stats.started_at, self._runtime.clock()
            )
        self._logger.warning("log flood %s stopped: %d lines", stats.flood_id, stats.emitted)

    def _run(self, flood_id: str, lines_per_s: int, stop: threading.Event) -> None:
        rng = random.Random()
        started = self._runtime.clock()
        emitted = 0
        while not stop.is_set():
            due = int((self._runtime.clock() - started) * lines_per_s)
            for number in range(emitted, due):
                ids = LineIds(
                    f"{rng.getrandbits(128):032x}",
                    f"{rng.getrandbits(64):016x}",
                    f"flood-{flood_id}-{number}",
                )
                self._logger.info("log flood line %d", number, extra={FLOOD_IDS: ids})
            if due > emitted:
                emitted = due
                with self._lock:
                    self._stats = FloodStats(flood_id, lines_per_s, emitted, started, None)
            stop.wait(TICK_S)
