"""A container's process on this machine: started in its own session, stopped by group.

Each container runs as the leader of a new session and process group, so one signal to the
group reaches everything it started (gunicorn's workers included), as stopping a container
stops its cgroup. Its stdout and stderr are the container's log file, opened for appending:
every write lands at the end of the file, whole lines stay whole, and the log survives the
agent (rsyslog tails these files).

While a container runs, a record ``<pod dir>/<container>.pid`` holds its PID and the
process's start time. An agent that was killed hard leaves its containers running; the next
one stops those it finds recorded (the start time guards against a reused PID) before it
starts pods afresh. Hand-written because it is exactly the part of a container runtime this
node needs: no runtime library runs plain processes with these guarantees.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import psutil

from refstack.node.mountns import Sandbox, spawn_with_volumes

__all__ = [
    "forget_process",
    "record_process",
    "signal_group",
    "spawn",
    "stop_recorded_processes",
]

_log = logging.getLogger(__name__)


def spawn(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: Path | str,
    log_path: Path,
    sandbox: Sandbox | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session (and, with a ``sandbox``, a mount namespace holding its
    volumes: :mod:`refstack.node.mountns`); raises OSError when it cannot be executed."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        if sandbox is not None:
            return spawn_with_volumes(argv, env, str(cwd), fd, sandbox)
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(fd)


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to the process group ``pgid``; False when no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def record_process(record: Path, pid: int) -> None:
    """Note that ``pid`` (a container's session leader) belongs to this node."""
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(json.dumps({"pid": pid, "started": _start_time(pid)}), encoding="utf-8")


def forget_process(record: Path) -> None:
    record.unlink(missing_ok=True)


def stop_recorded_processes(pods_dir: Path) -> list[int]:
    """SIGKILL the process groups recorded under ``pods_dir/*/*.pid`` that still run.

    Returns the PIDs stopped; every record is removed.
    """
    stopped: list[int] = []
    for record in sorted(pods_dir.glob("*/*.pid")):
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            pid, started = int(data["pid"]), data.get("started")
        except (OSError, ValueError, KeyError, TypeError):
            record.unlink(missing_ok=True)
            continue
        alive = _start_time(pid)
        if alive is not None and started is not None and abs(alive - float(started)) < 0.5:
            _log.warning("stopping process group %d left by an earlier agent (%s)", pid, record)
            if signal_group(pid, signal.SIGKILL):
                stopped.append(pid)
        record.unlink(missing_ok=True)
    return stopped
