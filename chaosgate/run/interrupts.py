"""SIGINT and SIGTERM during a run: stop promptly, but never in the middle of undoing a fault.

CI cancels a job with SIGINT, then SIGTERM a few seconds later, then SIGKILL. The first of
SIGINT / SIGTERM is remembered (it decides the exit code, 130 or 143), the callbacks run (the
load is told to stop at once) and :class:`RunInterrupted` is raised in the main thread, unless
a protected section is running (the rollbacks of an experiment, the ledger's bookkeeping,
the reports): then it is raised when the section ends. Later signals are noted and ignored,
so a second Ctrl-C never abandons a rollback.

``RunInterrupted`` is a ``KeyboardInterrupt``: chaoslib catches that during an experiment's
steady state and method, marks the experiment interrupted and plays its rollbacks (strategy
"always"). chaoslib installs its own SIGTERM handler while an experiment runs;
:meth:`Interrupts.chaoslib_handler` is a chaoslib event handler that puts this one back as
soon as the experiment starts running, and guards its rollbacks.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

from chaoslib.run import RunEventHandler

from chaosgate.vocabulary import EXIT_SIGINT, EXIT_SIGTERM, Clock

__all__ = ["EXIT_CODES", "Interrupts", "RunInterrupted"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)
EXIT_CODES = {signal.SIGINT: EXIT_SIGINT, signal.SIGTERM: EXIT_SIGTERM}


class RunInterrupted(KeyboardInterrupt):
    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


class Interrupts:
    """Install with ``with interrupts.installed():`` on the main thread."""

    def __init__(self, *, clock: Clock = time.time) -> None:
        self.signum: int | None = None
        self.at: float | None = None
        self.later: list[int] = []  # signals after the first, ignored
        self._clock = clock
        self._protected = 0
        self._callbacks: list[Callable[[int], None]] = []
        self._lock = threading.Lock()

    @property
    def exit_code(self) -> int | None:
        return EXIT_CODES.get(signal.Signals(self.signum)) if self.signum else None

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def on_signal(self, callback: Callable[[int], None]) -> None:
        """``callback(signum)`` runs once, in the handler, at the first signal: keep it quick
        and non-blocking (tell a process to stop, set an event)."""
        with self._lock:
            self._callbacks.append(callback)
        if self.signum is not None:
            callback(self.signum)

    def handler(self, signum: int, _frame: FrameType | None = None) -> None:
        if self.signum is not None:
            self.later.append(signum)
            return
        self.signum, self.at = signum, self._clock()
        for callback in list(self._callbacks):
            with suppress(Exception):  # a callback's failure must not stop the interrupt
                callback(signum)
        if self._protected == 0:
            raise RunInterrupted(signum)

    def check(self) -> None:
        """Raise RunInterrupted now if a signal came while nothing raised it."""
        if self.signum is not None and self._protected == 0:
            raise RunInterrupted(self.signum)

    @contextmanager
    def protected(self) -> Iterator[None]:
        """No RunInterrupted inside; a signal that came is raised at the end of the section."""
        self._protected += 1
        try:
            yield
        finally:
            self._protected -= 1
        self.check()

    def enter_protected(self) -> None:
        self._protected += 1

    def leave_protected(self) -> None:
        self._protected = max(0, self._protected - 1)

    def install(self) -> None:
        for sig in SIGNALS:
            signal.signal(sig, self.handler)

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
        self.install()
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def chaoslib_handler(self) -> RunEventHandler:
        return _ChaoslibGuard(self)


class _ChaoslibGuard(RunEventHandler):  # type: ignore[misc]  # chaoslib has no type hints
    """Inside chaoslib's run: our handlers back (chaoslib replaced SIGTERM's), and the
    rollbacks protected."""

    def __init__(self, interrupts: Interrupts) -> None:
        self._interrupts = interrupts
        self._in_rollbacks = False

    def running(self, *_args: Any, **_kwargs: Any) -> None:
        self._interrupts.install()

    def start_rollbacks(self, *_args: Any, **_kwargs: Any) -> None:
        if not self._in_rollbacks:
            self._in_rollbacks = True
            self._interrupts.enter_protected()

    def rollbacks_completed(self, *_args: Any, **_kwargs: Any) -> None:
        if self._in_rollbacks:
            self._in_rollbacks = False
            self._interrupts.leave_protected()

    def finish(self, *_args: Any, **_kwargs: Any) -> None:
        self.rollbacks_completed()
