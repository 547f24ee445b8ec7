"""The thread a live probe polls in: ``poll`` every ``interval_s`` from start until stop."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["PollingThread"]


class PollingThread:
    """A daemon thread calling ``poll`` every ``interval_s`` (the first call one interval after
    :meth:`start`) until :meth:`stop`."""

    def __init__(self, name: str, interval_s: float, poll: Callable[[], None]) -> None:
        self._name = name
        self._interval_s = interval_s
        self._poll = poll
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self._poll()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask it to stop; wait up to ``timeout_s`` for the poll it may be in."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def join(self) -> None:
        """Wait, however long, for a stopped thread's last poll to end."""
        if self._thread is not None:
            self._thread.join()
