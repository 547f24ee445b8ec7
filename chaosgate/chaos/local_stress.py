"""Bounded stress-ng processes on the local node, and their rollback (``type: python``).

- ``stress_cpu``: a stress-ng child process on the CPUs that ends by itself;
- ``stress_memory``: a stress-ng child process that takes the node's available memory (all
  but a share of the total) and ends by itself;
- ``stop_stress``: the rollback of both, which stops exactly the processes they started, by
  the PID recorded in ``<run dir>/chaos-stress.json`` (so another process can play it too).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal as _signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_records import RECORD_LOCK, read_record, record_path, write_record

__all__ = ["MAX_STRESS_S", "memory_to_fill_kb", "stop_stress", "stress_cpu", "stress_memory"]

# stress is bounded: it ends by itself after at most this long, whatever happens to the run
MAX_STRESS_S = 600
_STRESS_FILE = "chaos-stress.json"
_MIN_FILL_KB = 64 * 1024

# stress-ng processes this process started, by PID (the rollback stops these and no others)
_stress_procs: dict[int, subprocess.Popen[bytes]] = {}


def _check_duration(duration_s: object) -> int:
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float):
        raise ActivityFailed(f"duration_s must be a number of seconds, got {duration_s!r}")
    if not 0 < duration_s <= MAX_STRESS_S:
        raise ActivityFailed(
            f"duration_s {duration_s!r} is out of range; give 0 < duration_s <= {MAX_STRESS_S}"
        )
    return math.ceil(duration_s)


def _check_nice(nice: object) -> int:
    if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
        raise ActivityFailed(f"nice must be a whole number 0-19, got {nice!r}")
    return nice


def _binaries() -> tuple[str, str]:
    stress_ng = shutil.which("stress-ng")
    nice_bin = shutil.which("nice")
    if stress_ng is None or nice_bin is None:
        raise ActivityFailed(
            "stress-ng (or nice) is not on PATH; install the Debian package stress-ng "
            "(scripts/bootstrap does)"
        )
    return nice_bin, stress_ng


def _start(command: list[str], timeout: int, **details: Any) -> dict[str, Any]:
    """Start ``command`` in a session of its own and record its PID for ``stop_stress``."""
    path = record_path(_STRESS_FILE)
    # its own session: the rollback signals its process group (stress-ng and its workers)
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # reap it when it ends by itself, so it leaves no zombie behind
    threading.Thread(target=proc.wait, name=f"stress-ng-{proc.pid}", daemon=True).start()
    started = psutil.Process(proc.pid).create_time()
    with RECORD_LOCK:
        _stress_procs[proc.pid] = proc
        entries = read_record(path)
        entries.append({"pid": proc.pid, "create_time": started, "command": command})
        write_record(path, entries)
    return {
        "pid": proc.pid,
        "command": command,
        "duration_s": timeout,
        "ends_at": time.time() + timeout,
        **details,
    }


def stress_cpu(
    duration_s: float, workers: int = 0, load_percent: int = 100, nice: int = 19
) -> dict[str, Any]:
    """Start ``stress-ng --cpu N --cpu-load P --timeout Ds`` as a child process and return.

    ``workers`` 0 means one worker per online CPU. The stress ends by itself after
    ``duration_s`` (at most ``MAX_STRESS_S``). It runs at ``nice`` priority (19 by default): the
    node's CPUs are still 100 % busy (niced time is not idle time, which the node CPU alert
    measures), but the stack under test keeps getting the CPU it asks for.
    """
    timeout = _check_duration(duration_s)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ActivityFailed(
            f"workers must be a whole number >= 0 (0 = one per CPU), got {workers!r}"
        )
    if isinstance(load_percent, bool) or not isinstance(load_percent, int):
        raise ActivityFailed(f"load_percent must be a whole number 1-100, got {load_percent!r}")
    if not 1 <= load_percent <= 100:
        raise ActivityFailed(f"load_percent {load_percent!r} is out of range; give 1-100")
    priority = _check_nice(nice)
    nice_bin, stress_ng = _binaries()
    command = [
        nice_bin, "-n", str(priority),
        stress_ng, "--cpu", str(workers), "--cpu-load", str(load_percent),
        "--timeout", f"{timeout}s", "--quiet",
    ]  # fmt: skip
    return _start(command, timeout)


def memory_to_fill_kb(meminfo: str, keep_free_percent: float) -> int:
    """kB to take so that ``keep_free_percent`` of MemTotal stays available: MemAvailable minus
    that share of MemTotal (both from /proc/meminfo's text), 0 when nothing is left to take."""
    values: dict[str, int] = {}
    for line in meminfo.splitlines():
        name, _, rest = line.partition(":")
        fields = rest.split()
        if fields and fields[0].isdigit():
            values[name.strip()] = int(fields[0])
    if "MemTotal" not in values or "MemAvailable" not in values:
        raise ActivityFailed(
            "/proc/meminfo has no MemTotal or MemAvailable line; stress_memory needs Linux >= 3.14"
        )
    fill = values["MemAvailable"] - values["MemTotal"] * keep_free_percent / 100
    return max(0, int(fill))


_MEMORY_WORKERS = 2


def stress_memory(
    duration_s: float, keep_free_percent: float = 5, nice: int = 19
) -> dict[str, Any]:
    """Start two stress-ng ``--vm`` workers that together take all the node's available memory but
    ``keep_free_percent`` of its total, hold it for ``duration_s``, and ends by itself.

    The size is read from /proc/meminfo now (MemAvailable minus ``keep_free_percent`` % of
    MemTotal), so the node ends up about ``100 - keep_free_percent`` % used whatever else runs
    (NodeHighMemory fires above 90 %). As manifests/chaos/stress-memory.yaml does on
    Kubernetes: ``--vm-madvise hugepage`` asks for transparent huge pages (one fault per 2 MB
    instead of per 4 kB: measured on this 24 GB machine, idle, 90 % used after 11.1 s, against
    35.2 s with ``--vm-populate``, which prefaults 4 kB pages before the advice applies; with
    THP off, ``/sys/kernel/mm/transparent_hugepage/enabled`` ``never``, it falls back to 4 kB
    pages); ``--vm-method write64`` touches it with plain 64-bit writes (the default method
    cycles through costly patterns: with both CPUs busy it reached 72 % in 60 s, write64 90 % in
    27.7 s, measured); ``--vm-keep --vm-hang 0`` then hold it without spinning (the CPUs stay
    free), and
    ``--oomable`` keeps a worker the out-of-memory killer ends (stress-ng makes its workers its
    first choice) from coming back: if anything else needs memory meanwhile, the stress gives
    way, not the services. Niced like ``stress_cpu``; stopped by PID by ``stop_stress``.
    """
    timeout = _check_duration(duration_s)
    if (
        isinstance(keep_free_percent, bool)
        or not isinstance(keep_free_percent, int | float)
        or not 1 <= keep_free_percent <= 95
    ):
        raise ActivityFailed(
            f"keep_free_percent must be a number from 1 to 95, got {keep_free_percent!r}"
        )
    priority = _check_nice(nice)
    nice_bin, stress_ng = _binaries()
    fill_kb = memory_to_fill_kb(Path("/proc/meminfo").read_text(), float(keep_free_percent))
    if fill_kb < _MIN_FILL_KB:
        raise ActivityFailed(
            f"only {fill_kb} kB are available above the {keep_free_percent:g} % of memory to "
            "keep free; nothing worth filling (free some memory or lower keep_free_percent)"
        )
    command = [
        nice_bin, "-n", str(priority),
        # two workers, for twice the CPU share a busy node gives one process (the fill is page
        # faults and writes, CPU work); stress-ng 0.15 shares --vm-bytes among the workers
        # (its manual's "per vm worker" is older: with 2 workers and half the size, measured,
        # the node stopped at 51 %)
        stress_ng, "--vm", str(_MEMORY_WORKERS), "--vm-bytes", f"{fill_kb}k",
        "--vm-madvise", "hugepage", "--vm-method", "write64",
        "--vm-keep", "--vm-hang", "0", "--oomable",
        "--timeout", f"{timeout}s", "--quiet",
    ]  # fmt: skip
    return _start(command, timeout, fill_bytes=fill_kb * 1024)


def _same_process(pid: int, create_time: float) -> psutil.Process | None:
    """The process ``pid`` if it is still the one recorded (not a reused PID), else None."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - create_time) > 0.05 or process.status() == "zombie":
            return None
        return process
    except psutil.Error:
        return None


def stop_stress(timeout_s: float = 5.0) -> dict[str, Any]:
    """Stop the stress-ng processes ``stress_cpu`` / ``stress_memory`` started (recorded by
    PID), if still running.

    SIGTERM to each one's process group, then SIGKILL after ``timeout_s``. Processes that
    already ended are reported, not an error; nothing is looked up by name.
    """
    path = record_path(_STRESS_FILE)
    with RECORD_LOCK:
        entries = read_record(path)
        owned = dict(_stress_procs)
        _stress_procs.clear()
        write_record(path, [])
    recorded = {int(e["pid"]): float(e.get("create_time", 0.0)) for e in entries if "pid" in e}
    stopped: list[int] = []
    ended: list[int] = []
    for pid in sorted(set(recorded) | set(owned)):
        if pid in owned:
            alive = owned[pid].poll() is None
        else:
            alive = _same_process(pid, recorded[pid]) is not None
        if not alive:
            ended.append(pid)
            continue
        _signal_group(pid, _signal.SIGTERM)
        stopped.append(pid)
    deadline = time.monotonic() + timeout_s
    for pid in stopped:
        while time.monotonic() < deadline and _group_alive(pid):
            time.sleep(0.1)
        if _group_alive(pid):
            _signal_group(pid, _signal.SIGKILL)
        if pid in owned:
            owned[pid].wait(timeout=timeout_s)
    return {"stopped": stopped, "already_ended": ended}


def _signal_group(pid: int, sig: _signal.Signals) -> None:
    # started with start_new_session: its process group id is its pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # members left as zombies (reaped later by their parent) do not count
    for process in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(process.pid) == pgid and process.status() != "zombie":
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False
