"""Tiny Chaos Toolkit activities for unit tests: a "system" that is a dict in this module.

Experiments in the tests name these functions as ``type: python`` activities, so chaoslib
imports and runs them for real; no stack is involved.
"""

from __future__ import annotations

import time

from chaoslib.exceptions import ActivityFailed

SYSTEM: dict[str, object] = {"broken": False, "calls": []}


def reset() -> None:
    SYSTEM["broken"] = False
    SYSTEM["calls"] = []


def _call(name: str) -> None:
    calls = SYSTEM["calls"]
    assert isinstance(calls, list)
    calls.append(name)


def intact() -> bool:
    """A probe: True while the system is not broken."""
    _call("intact")
    return SYSTEM["broken"] is False


def must_be_intact() -> bool:
    """A probe that cannot even answer once the system is broken (its run fails)."""
    _call("must_be_intact")
    if SYSTEM["broken"]:
        raise ActivityFailed("the system is broken")
    return True


def break_it() -> dict[str, bool]:
    _call("break_it")
    SYSTEM["broken"] = True
    return {"broken": True}


def repair() -> dict[str, bool]:
    _call("repair")
    SYSTEM["broken"] = False
    return {"broken": False}


def slow(seconds: float = 0.2) -> None:
    _call("slow")
    time.sleep(seconds)


def remember(value: str) -> str:
    """An action that records the value it was given (after chaoslib's substitution)."""
    _call(f"remember:{value}")
    return value


def fail(reason: str = "it failed") -> None:
    """An action that always fails."""
    _call("fail")
    raise ActivityFailed(reason)
