"""Helpers the integration tests share."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["chaosgate_env"]


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
