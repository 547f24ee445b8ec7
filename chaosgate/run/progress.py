"""Live progress in the terminal: what is running, what passed, what failed and why.

Long phases (the load, completeness polling) add a bar from :meth:`Progress.bar` when the
console is a terminal, and plain lines through :meth:`Progress.info` when it is not (a CI log
would keep every frame of a bar); :mod:`chaosgate.run.load_progress` and
:mod:`chaosgate.run.check_progress` choose with :attr:`Progress.shows_bars`.
"""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as RichProgress
from rich.progress import ProgressColumn

from assertions.result import CheckResult, Status
from chaosgate.vocabulary import Clock

__all__ = ["Progress"]

_MARKS = {
    Status.PASSED: "[green]PASS[/]",
    Status.FAILED: "[red]FAIL[/]",
    Status.ERROR: "[magenta]ERROR[/]",
}


class Progress:
    """Thread-safe printer; every line carries the seconds since the run started."""

    def __init__(self, console: Console, clock: Clock = time.monotonic) -> None:
        self._console = console
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self.last_step = ""  # what the run was doing (an interrupted run's report says it)

    @property
    def console(self) -> Console:
        return self._console

    @property
    def shows_bars(self) -> bool:
        """Whether a bar can redraw itself in place: a terminal that understands cursor moves."""
        return self._console.is_terminal and not self._console.is_dumb_terminal

    def bar(self, *columns: ProgressColumn, get_time: Clock | None = None) -> RichProgress:
        """A rich bar on this console, not started. The lines printed while it shows appear
        above it (rich draws both through one console); it vanishes when stopped (the caller
        prints a closing line if one is wanted), and it redraws only when the caller updates it
        with ``refresh=True``: the caller's thread is the only one drawing it."""
        return RichProgress(
            *columns,
            console=self._console,
            transient=True,
            auto_refresh=False,
            get_time=get_time or self._clock,
        )

    def _print(self, text: str) -> None:
        with self._lock:
            self._console.print(
                f"[dim]{self._clock() - self._started:7.1f}s[/] {text}", highlight=False
            )

    def step(self, message: str) -> None:
        self.last_step = message
        self._print(f"[bold]>[/] {message}")

    def info(self, message: str) -> None:
        self._print(f"  {message}")

    def check(self, result: CheckResult) -> None:
        latency = f" ({result.latency_s:.1f} s)" if result.latency_s is not None else ""
        # names and reasons carry what backends answered ("[/x]" would be a closing tag)
        line = f"{_MARKS[result.status]} {escape(result.name)}{latency}"
        if not result.passed:
            line += f": {escape(result.reason)}"
        self._print(line)
