"""The shared waiting helper (tests/support/waiting.py): it returns the first truthy answer,
retries only the exceptions it is told to, and its timeout names what was awaited and what
was seen last."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from tests.support.waiting import wait_until, wait_until_async


def test_returns_the_first_truthy_answer() -> None:
    answers = iter([None, 0, [], "", [7]])
    assert wait_until(lambda: next(answers), timeout_s=5, interval_s=0, message="a list") == [7]
    assert next(answers, "exhausted") == "exhausted"  # asked exactly five times


def test_gives_up_at_the_deadline_naming_the_wait_and_the_last_value() -> None:
    counter = itertools.count()
    started = time.monotonic()
    with pytest.raises(AssertionError) as failed:
        wait_until(lambda: next(counter) < 0, timeout_s=0.2, message="a negative count")
    assert 0.2 <= time.monotonic() - started < 2.0
    assert "after 0.2 s" in str(failed.value)
    assert "waiting for a negative count; last seen: False" in str(failed.value)


def test_ignored_exceptions_are_retried_and_reported_others_end_the_wait() -> None:
    calls: list[int] = []

    def refused() -> bool:
        calls.append(1)
        raise ConnectionRefusedError("not listening yet")

    with pytest.raises(AssertionError, match=r"last seen: it raised ConnectionRefusedError"):
        wait_until(refused, timeout_s=0.1, interval_s=0.02, ignoring=(OSError,), message="up")
    assert len(calls) > 1
    calls.clear()
    with pytest.raises(ConnectionRefusedError):
        wait_until(refused, timeout_s=5, message="up")
    assert len(calls) == 1


def test_a_message_callable_is_built_only_when_the_wait_gives_up() -> None:
    built: list[str] = []

    def message() -> str:
        built.append("built")
        return "the log's tail"

    assert wait_until(lambda: True, timeout_s=1, message=message)
    assert built == []
    with pytest.raises(AssertionError, match="waiting for the log's tail"):
        wait_until(lambda: False, timeout_s=0.05, message=message)
    assert built == ["built"]


def test_the_async_wait_lets_the_loop_run_meanwhile() -> None:
    async def scenario() -> list[int]:
        flag: list[int] = []
        asyncio.get_running_loop().call_later(0.05, flag.append, 1)
        return await wait_until_async(lambda: flag, timeout_s=2, message="the callback")

    assert asyncio.run(scenario()) == [1]
    with pytest.raises(AssertionError, match="waiting for never; last seen: None"):
        asyncio.run(wait_until_async(lambda: None, timeout_s=0.05, message="never"))
