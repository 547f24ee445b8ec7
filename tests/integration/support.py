"""Helpers the integration tests share."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

__all__ = ["chaosgate_env", "poll"]

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


def chaosgate_env(ports: Mapping[str, int], state_dir: Path) -> dict[str, str]:
    """The environment for a ``chaosgate`` subprocess that must find the stack the tests use
    (its ports and its state directory), whatever this process's environment says, with the
    fault ledger kept under that state directory."""
    env = dict(os.environ)
    env.update({f"CHAOSGATE_PORT_{name.upper()}": str(port) for name, port in ports.items()})
    env["CHAOSGATE_STACK_DIR"] = str(state_dir)
    # the runs' fault ledger next to the stack, not in the user's ~/.local/state
    env["CHAOSGATE_STATE_DIR"] = str(state_dir / "chaosgate-state")
    return env
