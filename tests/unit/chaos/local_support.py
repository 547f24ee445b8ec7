"""A stack record in a temporary state dir, for the local provider's tests (no stack runs).

``CHAOSGATE_STACK_DIR`` points at it, and its record says a stack runs whose "supervisord" is
``supervisord_pid`` (this process by default), on the ports of ``CHAOSGATE_PORT_OFFSET=30000``
with any given ones changed, so the actions find their URLs and run dir there.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import resolve_ports
from refstack.launcher.record import StackRecord

__all__ = ["PORTS", "fake_stack"]

PORTS = resolve_ports({"CHAOSGATE_PORT_OFFSET": "30000"})


def fake_stack(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    supervisord_pid: int | None = None,
    **ports: int,
) -> StackLayout:
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(tmp_path / "state"))
    layout = StackLayout.from_env(os.environ)
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    layout.data_dir.mkdir(parents=True, exist_ok=True)
    pid = os.getpid() if supervisord_pid is None else supervisord_pid
    StackRecord({**PORTS, **ports}, pid, time.time(), []).save(layout.record_file)
    return layout
