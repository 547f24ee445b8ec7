"""The shared fake clock (tests/support/clocks.py): time moves only by ``advance``, ``sleep``
or, when asked for, a step at each reading."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.clocks import FakeClock


def test_it_stands_still_until_advanced_or_slept_through() -> None:
    clock = FakeClock(100.0)
    assert (clock(), clock(), clock.monotonic()) == (100.0, 100.0, 100.0)
    clock.advance(2.5)
    clock.sleep(0.5)
    clock.sleep(0.0)
    assert clock() == 103.0
    assert clock.slept == [0.5, 0.0]  # advance is not a sleep
    with pytest.raises(ValueError, match="non-negative"):
        clock.sleep(-1.0)
    assert clock() == 103.0


def test_a_step_per_reading_makes_each_reading_later_than_the_last() -> None:
    clock = FakeClock(1000.0, step_per_reading=1.0)
    assert [clock() for _ in range(3)] == [1000.0, 1001.0, 1002.0]


def test_wall_time_is_the_reading_as_utc() -> None:
    clock = FakeClock(1_750_000_000.0)
    assert clock.wall() == datetime(2025, 6, 15, 15, 6, 40, tzinfo=UTC)
