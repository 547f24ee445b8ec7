"""The one fake clock of the tests: time that moves only when the test (or the code under test,
through ``sleep``) moves it, so that every moment a test asserts is exact and no test waits for
real seconds to pass.

It fits the clocks the code takes: a ``Callable[[], float]`` (``clock()``), the node agent's
``monotonic()``/``wall()`` pair, and a ``sleep(seconds)`` that advances it and records each
sleep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["FakeClock"]


@dataclass
class FakeClock:
    """Seconds (Unix time, or any origin) that stand still until advanced or slept through.

    ``step_per_reading`` is for code that reads the clock in a loop without ever sleeping (an
    experiment's journal stamps): each reading is then that much later than the previous one,
    the first being ``now``.
    """

    now: float = 1000.0
    step_per_reading: float = 0.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        reading = self.now
        self.now += self.step_per_reading
        return reading

    def monotonic(self) -> float:
        return self()

    def wall(self) -> datetime:
        """The current reading as an aware UTC datetime (``now`` taken as Unix time)."""
        return datetime.fromtimestamp(self(), UTC)

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """Record the sleep and move time on by it; negative, as ``time.sleep``, is an error."""
        if seconds < 0:
            raise ValueError(f"sleep length must be non-negative, got {seconds}")
        self.slept.append(seconds)
        self.now += seconds
