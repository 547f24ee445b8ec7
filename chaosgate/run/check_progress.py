"""Completeness polling, live: ``traces: 812/1000 ids found`` while a check waits for its ids.

Polling a big ledger takes a while (its first round alone is many batches, and a backend that
ingests slowly keeps the check going until the deadline), and the run shows nothing else
meanwhile. :class:`FoundProgress` is the ``on_progress`` callback of
:func:`assertions.checks.completeness.poll_for_ids`: on a terminal a bar that vanishes when
the check ends (its PASS / FAIL line follows); otherwise plain lines, the first once the check
has taken ``line_every_s`` (a quick check adds no line to a CI log), then at most one every
``line_every_s``, and a closing line when it ends. It is only a view: a failure in it ends the
view with one line, never the check.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import TracebackType

from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from chaosgate.run.progress import Progress
from chaosgate.vocabulary import Clock

__all__ = ["LINE_EVERY_S", "FoundProgress", "found_progress"]

LINE_EVERY_S = 10.0  # at most one plain line this often when the output is not a terminal


class FoundProgress:
    """Call it with (ids found, ids looked for) as polling goes; :meth:`close` when done."""

    def __init__(
        self,
        printer: Progress,
        label: str,
        *,
        line_every_s: float = LINE_EVERY_S,
        clock: Clock = time.monotonic,
    ) -> None:
        if line_every_s < 0:
            raise ValueError(f"line_every_s {line_every_s!r} is negative; give 0 or more")
        self._printer = printer
        self._label = label
        self._line_every_s = line_every_s
        self._clock = clock
        self._started = clock()
        self._last_line_at = self._started
        self._lines = 0
        self._bar: RichProgress | None = None
        self._task: TaskID | None = None
        self._latest: tuple[int, int] | None = None
        self._closed = False
        self.error: str | None = None  # why the view gave up, if it did

    def __call__(self, found: int, wanted: int) -> None:
        if self._closed:
            return
        self._latest = (found, wanted)
        try:
            if self._printer.shows_bars:
                self._draw(found, wanted)
            else:
                now = self._clock()
                if now - self._last_line_at >= self._line_every_s:
                    self._last_line_at = now
                    self._lines += 1
                    self._printer.info(f"{self._label}: {found}/{wanted} ids found")
        except Exception as exc:  # a view must not fail the check it shows
            self._give_up(exc)

    def _give_up(self, exc: Exception) -> None:
        self._closed = True
        self.error = f"{type(exc).__name__}: {exc}"
        with suppress(Exception):  # the console itself may be what failed
            self._stop_bar()
            self._printer.info(f"{self._label}: live count stopped ({self.error})")

    def _draw(self, found: int, wanted: int) -> None:
        if self._bar is None:
            self._bar = self._printer.bar(
                TextColumn("  {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("ids found"),
                TimeElapsedColumn(),
                get_time=self._clock,
            )
            self._task = self._bar.add_task(self._label, total=wanted)
            self._bar.start()
        assert self._task is not None
        self._bar.update(self._task, completed=found, total=wanted, refresh=True)

    def _stop_bar(self) -> None:
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.stop()

    def close(self) -> None:
        """Remove the bar; after plain lines, one closing line with the final count.
        Idempotent; never raises."""
        if self._closed:
            return
        try:
            self._stop_bar()
            if self._lines and self._latest is not None:
                found, wanted = self._latest
                took = self._clock() - self._started
                self._printer.info(f"{self._label}: {found}/{wanted} ids found in {took:.1f} s")
        except Exception as exc:
            self._give_up(exc)
        self._closed = True

    def __enter__(self) -> FoundProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@contextmanager
def found_progress(
    printer: Progress | None, label: str, *, line_every_s: float = LINE_EVERY_S
) -> Iterator[FoundProgress | None]:
    """A :class:`FoundProgress` closed on the way out, or None when there is no printer (the
    check then polls without a callback)."""
    if printer is None:
        yield None
        return
    with FoundProgress(printer, label, line_every_s=line_every_s) as progress:
        yield progress
