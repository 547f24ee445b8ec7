"""The load phase, live: elapsed and remaining time of the profile, requests per second, errors.

Locust runs in its own process (:mod:`chaosgate.run.load`); what this process can watch of it
is the request ledger, JSONL written by Locust (or its master), growing as requests end. A
:class:`~chaosgate.request_ledger.LedgerTail` reads only the bytes appended since the previous
tick, so a tick costs what was written since, never the whole ledger again. Requests per second are
counted over the last ``window_s`` of ticks (recent, so a fault that stalls the service shows
as a drop, not as a dent in an average); errors over the whole load, with the SLO check's rule
for a failed request (:func:`assertions.checks.slo.is_error`), so both say the same.

On a terminal the figures are a bar that vanishes when the load ends; otherwise (a CI log,
which would keep every frame of a bar) a plain line every ``line_every_s``. Either way
:meth:`LoadProgress.stop` prints one closing line with the whole load's figures. The display
is only a view: whatever fails in it (a ledger file that cannot be read) ends the view with
one line saying why, never the run, and :meth:`LoadProgress.stop` never raises, so it belongs
in a ``finally``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from rich.progress import BarColumn, TaskID, TextColumn
from rich.progress import Progress as RichProgress

from assertions.checks.slo import is_error
from chaosgate.request_ledger import LedgerTail
from chaosgate.run.progress import Progress
from chaosgate.vocabulary import Clock, LedgerEntry

__all__ = [
    "LINE_EVERY_S",
    "RATE_WINDOW_S",
    "REFRESH_S",
    "LoadFigures",
    "LoadProgress",
]

LINE_EVERY_S = 10.0  # a plain line this often when the output is not a terminal
REFRESH_S = 1.0  # the ledger is read, and the bar redrawn, this often
RATE_WINDOW_S = 10.0  # requests per second over this many seconds of ticks
JOIN_TIMEOUT_S = 5.0  # a tick stuck longer than this (a hung file system) is left behind


@dataclass(frozen=True)
class LoadFigures:
    """The load so far, as the ledger tells it."""

    elapsed_s: float
    duration_s: float  # the profile's
    requests: int
    errors: int  # no response, or a 5xx
    recent_rate: float  # requests per second over the last window
    average_rate: float  # requests per second since the load started

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.duration_s - self.elapsed_s)

    @property
    def error_ratio(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def _errors(self) -> str:
        ratio = self.error_ratio
        return f"{self.errors} errors" + ("" if ratio is None else f" ({ratio * 100:.1f} %)")

    def live_line(self) -> str:
        """``40/120 s (80 s left), 1402 requests, 35.2 req/s, 12 errors (0.9 %)``; past the
        run time (Locust stopping its users, or waiting to quit in web mode) ``past the 120 s``."""
        when = (
            f"{self.elapsed_s:.0f}/{self.duration_s:g} s ({self.remaining_s:.0f} s left)"
            if self.elapsed_s <= self.duration_s
            else f"past the {self.duration_s:g} s"
        )
        return f"{when}, {self.requests} requests, {self.recent_rate:.1f} req/s, {self._errors()}"

    def closing_line(self) -> str:
        """``121 s, 4210 requests, 34.8 req/s on average, 12 errors (0.3 %)``"""
        return (
            f"{self.elapsed_s:.0f} s, {self.requests} requests, "
            f"{self.average_rate:.1f} req/s on average, {self._errors()}"
        )


class _Tally:
    """Running counts of a growing ledger, and the totals seen at recent ticks."""

    def __init__(self, now: float, window_s: float) -> None:
        self.started = now
        self.requests = 0
        self.errors = 0
        self._window_s = window_s
        self._samples: deque[tuple[float, int]] = deque([(now, 0)])  # (tick time, requests)

    def add(self, entries: Sequence[LedgerEntry], now: float) -> None:
        self.requests += len(entries)
        self.errors += sum(1 for entry in entries if is_error(entry))
        self._samples.append((now, self.requests))
        # keep the newest sample at or before the window's start: the rate spans the window
        while len(self._samples) > 2 and self._samples[1][0] <= now - self._window_s:
            self._samples.popleft()

    def figures(self, now: float, duration_s: float) -> LoadFigures:
        then, requests_then = self._samples[0]
        elapsed = now - self.started
        return LoadFigures(
            elapsed_s=elapsed,
            duration_s=duration_s,
            requests=self.requests,
            errors=self.errors,
            recent_rate=(self.requests - requests_then) / (now - then) if now > then else 0.0,
            average_rate=self.requests / elapsed if elapsed > 0 else 0.0,
        )


class LoadProgress:
    """Shows the load's figures while it runs: ``start()`` when Locust starts, ``stop()`` when
    it has ended (idempotent, never raises); or use it as a context manager.

    ``clock`` and ``sleep`` are injectable for tests; by default the thread sleeps on an event
    that :meth:`stop` sets, so stopping does not wait out a tick.
    """

    def __init__(
        self,
        printer: Progress,
        ledger_dir: Path,
        duration_s: float,
        *,
        line_every_s: float = LINE_EVERY_S,
        refresh_s: float = REFRESH_S,
        window_s: float = RATE_WINDOW_S,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], object] | None = None,
    ) -> None:
        if duration_s <= 0 or refresh_s <= 0 or window_s <= 0 or line_every_s < 0:
            raise ValueError(
                f"load progress needs a positive duration ({duration_s!r}), refresh "
                f"({refresh_s!r}) and rate window ({window_s!r}), and a line interval that is "
                f"not negative ({line_every_s!r})"
            )
        self._printer = printer
        self._tail = LedgerTail(ledger_dir)
        self._duration_s = duration_s
        self._line_every_s = line_every_s
        self._refresh_s = refresh_s
        self._window_s = window_s
        self._clock = clock
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        self._tick_lock = threading.Lock()  # the thread and stop() both tick
        self._state_lock = threading.Lock()
        self._tally: _Tally | None = None
        self._last_line_at = 0.0
        self._bar_wanted = False  # a terminal: the figures are a bar, not lines
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.error: str | None = None  # why the view ended early, if it did
        self.figures: LoadFigures | None = None  # the latest figures

    def start(self) -> LoadProgress:
        with self._state_lock:
            if self._tally is not None or self._stopped:
                raise RuntimeError("this load progress was started or stopped; make a new one")
            now = self._clock()
            self._tally = _Tally(now, self._window_s)
            self._last_line_at = now
        self._bar_wanted = self._printer.shows_bars
        if self._bar_wanted:
            self._bar = self._printer.bar(
                TextColumn("  load"), BarColumn(), TextColumn("{task.fields[figures]}")
            )
            self._task = self._bar.add_task("load", total=self._duration_s, figures="starting")
            self._bar.start()
        self._thread = threading.Thread(
            target=self._run, name="chaosgate-load-progress", daemon=True
        )
        self._thread.start()
        return self

    def update(self) -> LoadFigures:
        """One tick: read what the ledger gained, then redraw the bar or, when a line is due
        (not a terminal), print one. Raises what reading the ledger raises."""
        with self._tick_lock:
            figures = self._read()
            bar, task = self._bar, self._task
            if bar is not None and task is not None:
                bar.update(
                    task,
                    completed=min(figures.elapsed_s, self._duration_s),
                    figures=figures.live_line(),
                    refresh=True,
                )
            elif not self._bar_wanted:
                now = self._clock()
                if now - self._last_line_at >= self._line_every_s:
                    self._last_line_at = now
                    self._printer.info(f"load: {figures.live_line()}")
            return figures

    def _read(self) -> LoadFigures:
        if self._tally is None:
            raise RuntimeError("start() the load progress before updating it")
        entries = self._tail.new_entries()
        now = self._clock()
        self._tally.add(entries, now)
        self.figures = self._tally.figures(now, self._duration_s)
        return self.figures

    def _run(self) -> None:
        try:
            while True:
                self._sleep(self._refresh_s)  # nothing to read the moment the load starts
                if self._stopping.is_set():
                    return
                self.update()
        except Exception as exc:  # a view must not end the run; say why it stopped
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        with suppress(Exception):  # the console itself may be what failed
            self._close_bar()
            self._printer.info(f"load: live figures stopped ({self.error}); the load goes on")

    def _close_bar(self) -> None:
        with self._state_lock:
            bar, self._bar = self._bar, None
        if bar is not None:
            bar.stop()

    def stop(self) -> LoadFigures | None:
        """End the view: a last read of the ledger and one closing line. Safe to call twice,
        before :meth:`start`, and after the thread failed; never raises."""
        with self._state_lock:
            if self._stopped or self._tally is None:
                self._stopped = True
                return self.figures
            self._stopped = True
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=JOIN_TIMEOUT_S)
        stuck = self._thread is not None and self._thread.is_alive()
        if self.error is None and not stuck:
            try:
                with self._tick_lock:
                    figures = self._read()
                self._close_bar()
                self._printer.info(f"load: {figures.closing_line()}")
            except Exception as exc:
                self._fail(exc)
        with suppress(Exception):
            self._close_bar()
        return self.figures

    def __enter__(self) -> LoadProgress:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
