"""Chaos Toolkit actions on the local stack's supervised programs (``type: python``).

- ``kill_service``: signal a supervised program's process group (supervisord brings it back
  after the stack's restart delay, as a Deployment replaces a killed pod);
- ``stop_program`` / ``start_program``: stop a part (e.g. the log shipper rsyslog) and bring it
  back (the rollback).

Nothing is signalled by name: the PID is the one supervisord reports for the program.
"""

from __future__ import annotations

import os
import signal as _signal
import time
import xmlrpc.client
from typing import Any

from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_stack import current_stack, program_info, supervisor

__all__ = ["kill_service", "parse_signal", "start_program", "stop_program"]


def parse_signal(value: str | int) -> _signal.Signals:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return _signal.Signals(value)
        except ValueError:
            pass
    elif isinstance(value, str):
        name = value.strip().upper()
        name = name if name.startswith("SIG") else f"SIG{name}"
        if name in _signal.Signals.__members__:
            return _signal.Signals[name]
    raise ActivityFailed(
        f"unknown signal {value!r}; give a signal name such as 'SIGKILL' or 'SIGTERM'"
    )


def kill_service(name: str, signal: str = "SIGKILL") -> dict[str, Any]:
    """Send ``signal`` to the process group of the supervised program ``name``.

    supervisord notices the exit and starts the program again (after the stack's restart
    delay for the restaurant services), so no rollback is needed to bring it back.
    """
    sig = parse_signal(signal)
    layout, _record = current_stack()
    client = supervisor(layout)
    info = program_info(client, layout, name)
    pid = int(info.get("pid") or 0)
    if info.get("statename") != "RUNNING" or pid <= 0:
        raise ActivityFailed(
            f"cannot kill {name!r}: supervisord reports it {info.get('statename')} "
            f"(pid {pid}); wait until `chaosgate stack status` shows it up, then retry"
        )
    try:
        group = os.getpgid(pid)
    except ProcessLookupError:
        raise ActivityFailed(f"cannot kill {name!r}: its process {pid} is already gone") from None
    if group == os.getpgrp():
        raise ActivityFailed(
            f"refusing to kill {name!r}: its process group {group} is this process's own"
        )
    os.killpg(group, sig)
    return {"name": name, "pid": pid, "process_group": group, "signal": sig.name}


def stop_program(name: str) -> dict[str, Any]:
    """Stop the supervised program ``name`` (and its process group); a no-op when stopped."""
    layout, _record = current_stack()
    client = supervisor(layout)
    before = program_info(client, layout, name)
    try:
        client.stop(name)
    except xmlrpc.client.Fault as fault:
        raise ActivityFailed(
            f"supervisord could not stop {name!r}: {fault.faultString}; "
            f"see {layout.log_dir / 'supervisord.log'}"
        ) from None
    after = program_info(client, layout, name)
    return {
        "name": name,
        "pid": int(before.get("pid") or 0),
        "was": before.get("statename"),
        "state": after.get("statename"),
    }


def start_program(name: str, timeout_s: float = 30.0) -> dict[str, Any]:
    """Start the supervised program ``name`` (a no-op when it is already starting or running)
    and wait until supervisord reports it RUNNING."""
    layout, _record = current_stack()
    client = supervisor(layout)
    program_info(client, layout, name)
    log = layout.log_dir / f"{name}.out.log"
    try:
        client.start(name)
    except xmlrpc.client.Fault as fault:
        raise ActivityFailed(
            f"supervisord could not start {name!r}: {fault.faultString}; see {log}"
        ) from None
    deadline = time.monotonic() + timeout_s
    while True:
        info = program_info(client, layout, name)
        state = info.get("statename")
        if state == "RUNNING":
            return {"name": name, "pid": int(info.get("pid") or 0), "state": state}
        if state == "FATAL" or time.monotonic() > deadline:
            raise ActivityFailed(
                f"{name!r} is {state} instead of RUNNING {timeout_s:g} s after start; see {log}"
            )
        time.sleep(0.2)
