"""Live progress in the terminal: what is running, what passed, what failed and why."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

from assertions.result import CheckResult, Status

__all__ = ["Progress"]

_MARKS = {
    Status.PASSED: "[green]PASS[/]",
    Status.FAILED: "[red]FAIL[/]",
    Status.ERROR: "[magenta]ERROR[/]",
}


class Progress:
    """Thread-safe printer; every line carries the seconds since the run started."""

    def __init__(self, console: Console, clock: Callable[[], float] = time.monotonic) -> None:
        self._console = console
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self.last_step = ""  # what the run was doing (an interrupted run's report says it)

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
