"""Helpers the integration tests share."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

__all__ = ["poll"]

T = TypeVar("T")


def poll(probe: Callable[[], T | None], *, timeout_s: float, interval_s: float = 0.25) -> T | None:
    """The first non-None answer of ``probe`` within ``timeout_s``, else None."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = probe()
        if answer is not None:
            return answer
        if time.monotonic() > deadline:
            return None
        time.sleep(interval_s)
