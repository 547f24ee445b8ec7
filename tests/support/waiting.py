"""Waiting in tests for something another thread or process does: one helper, so that every
wait has a deadline, polls at a known pace and, when it gives up, says what it waited for and
what it saw last (a bare ``assert`` after a loop says neither).

Built on tenacity (a dependency already, for the checks' retries) rather than on a loop of our
own: its stop and wait policies are the ones the product code uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

__all__ = ["wait_until", "wait_until_async"]

T = TypeVar("T")

Message = str | Callable[[], str]
"""What was awaited: a sentence, or a callable that builds one when the wait gives up (for a
log's tail or a state that only then is worth reading)."""


def _not_yet(value: object) -> bool:
    return not value


def _give_up(timeout_s: float, message: Message) -> Callable[[RetryCallState], object]:
    def raise_timeout(state: RetryCallState) -> object:
        outcome = state.outcome
        if outcome is None:  # tenacity always has one when it gives up
            seen = "nothing (no attempt)"
        elif outcome.failed:
            seen = f"it raised {outcome.exception()!r}"
        else:
            seen = f"{outcome.result()!r}"
        what = message() if callable(message) else message
        raise AssertionError(
            f"gave up after {timeout_s:g} s ({state.attempt_number} tries) waiting for {what};"
            f" last seen: {seen}"
        )

    return raise_timeout


def _policy(
    timeout_s: float, interval_s: float, ignoring: tuple[type[BaseException], ...], message: Message
) -> dict[str, Any]:
    """tenacity's arguments for a wait: a fixed pace, a deadline, a falsy answer or an ignored
    exception retried, an AssertionError at the deadline."""
    return {
        "stop": stop_after_delay(timeout_s),
        "wait": wait_fixed(interval_s),
        "retry": retry_if_result(_not_yet) | retry_if_exception_type(ignoring),
        "retry_error_callback": _give_up(timeout_s, message),
    }


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout_s: float,
    message: Message,
    interval_s: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """Call ``predicate`` every ``interval_s`` until it returns a truthy value, and return that.

    An exception of a type in ``ignoring`` counts as "not yet" (a server still starting refuses
    connections); any other exception, an AssertionError included, ends the wait at once, so a
    predicate can fail early when waiting is pointless (the process it waits for has exited).
    After ``timeout_s`` it raises an AssertionError naming ``message`` and the last value or
    exception seen.
    """
    retrying = Retrying(**_policy(timeout_s, interval_s, ignoring, message))
    value = retrying(predicate)
    assert value is not None  # None is falsy: retried until a value, or the timeout's raise
    return value


async def wait_until_async(
    predicate: Callable[[], T | None],
    *,
    timeout_s: float,
    message: Message,
    interval_s: float = 0.05,
    ignoring: tuple[type[BaseException], ...] = (),
) -> T:
    """:func:`wait_until` inside an event loop: it sleeps with ``asyncio.sleep``, so the tasks
    whose effect ``predicate`` looks for go on running meanwhile."""
    retrying = AsyncRetrying(**_policy(timeout_s, interval_s, ignoring, message))

    async def attempt() -> T | None:
        return predicate()

    value: T | None = await retrying(attempt)
    assert value is not None  # None is falsy: retried until a value, or the timeout's raise
    return value
