"""Chaos Toolkit actions against the local stack (``type: python`` activities).

Each is a plain function taking JSON values; it finds the stack from ``CHAOSGATE_STACK_DIR``
(default ``.stack``) and its record, acts, and returns a small JSON-able dict that Chaos
Toolkit writes into the journal. A failure is an ``ActivityFailed`` saying what and how to fix.

- ``kill_service``: signal a supervised program's process group (supervisord brings it back
  after the stack's restart delay, as a Deployment replaces a killed pod);
- ``stop_program`` / ``start_program``: stop a part (e.g. the log shipper rsyslog) and bring it
  back (the rollback);
- ``stress_cpu`` / ``stop_stress``: a bounded stress-ng child process that ends by itself, and
  its rollback, which stops exactly the processes ``stress_cpu`` started (by PID);
- ``set_faults`` / ``clear_faults``: the services' ``PUT/DELETE /admin/faults`` switches.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal as _signal
import subprocess
import threading
import time
import xmlrpc.client
from pathlib import Path
from typing import Any

import httpx
import psutil
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_stack import (
    current_layout,
    current_stack,
    program_info,
    service_url,
    supervisor,
)

__all__ = [
    "MAX_STRESS_S",
    "clear_faults",
    "kill_service",
    "set_faults",
    "start_program",
    "stop_program",
    "stop_stress",
    "stress_cpu",
]

# stress is bounded: it ends by itself after at most this long, whatever happens to the run
MAX_STRESS_S = 600
_HTTP_TIMEOUT_S = 5.0
_STRESS_FILE = "chaos-stress.json"

# stress-ng processes this process started, by PID (the rollback stops these and no others)
_stress_lock = threading.Lock()
_stress_procs: dict[int, subprocess.Popen[bytes]] = {}


def _parse_signal(value: str | int) -> _signal.Signals:
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
    sig = _parse_signal(signal)
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


# --- CPU stress ------------------------------------------------------------------------------


def _stress_file() -> Path:
    return current_layout().run_dir / _STRESS_FILE


def _read_stress_file(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _write_stress_file(path: Path, entries: list[dict[str, Any]]) -> None:
    if not entries:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries, indent=2))


def stress_cpu(
    duration_s: float, workers: int = 0, load_percent: int = 100, nice: int = 19
) -> dict[str, Any]:
    """Start ``stress-ng --cpu N --cpu-load P --timeout Ds`` as a child process and return.

    ``workers`` 0 means one worker per online CPU. The stress ends by itself after
    ``duration_s`` (at most ``MAX_STRESS_S``). It runs at ``nice`` priority (19 by default): the
    node's CPUs are still 100 % busy (niced time is not idle time, which the node CPU alert
    measures), but the stack under test keeps getting the CPU it asks for.
    """
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float):
        raise ActivityFailed(f"duration_s must be a number of seconds, got {duration_s!r}")
    if not 0 < duration_s <= MAX_STRESS_S:
        raise ActivityFailed(
            f"duration_s {duration_s!r} is out of range; give 0 < duration_s <= {MAX_STRESS_S}"
        )
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ActivityFailed(
            f"workers must be a whole number >= 0 (0 = one per CPU), got {workers!r}"
        )
    if isinstance(load_percent, bool) or not isinstance(load_percent, int):
        raise ActivityFailed(f"load_percent must be a whole number 1-100, got {load_percent!r}")
    if not 1 <= load_percent <= 100:
        raise ActivityFailed(f"load_percent {load_percent!r} is out of range; give 1-100")
    if isinstance(nice, bool) or not isinstance(nice, int) or not 0 <= nice <= 19:
        raise ActivityFailed(f"nice must be a whole number 0-19, got {nice!r}")
    stress_ng = shutil.which("stress-ng")
    nice_bin = shutil.which("nice")
    if stress_ng is None or nice_bin is None:
        raise ActivityFailed(
            "stress-ng (or nice) is not on PATH; install the Debian package stress-ng "
            "(scripts/bootstrap does)"
        )
    timeout = math.ceil(duration_s)
    command = [
        nice_bin, "-n", str(nice),
        stress_ng, "--cpu", str(workers), "--cpu-load", str(load_percent),
        "--timeout", f"{timeout}s", "--quiet",
    ]  # fmt: skip
    path = _stress_file()
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
    with _stress_lock:
        _stress_procs[proc.pid] = proc
        entries = _read_stress_file(path)
        entries.append({"pid": proc.pid, "create_time": started, "command": command})
        _write_stress_file(path, entries)
    return {
        "pid": proc.pid,
        "command": command,
        "duration_s": timeout,
        "ends_at": time.time() + timeout,
    }


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
    """Stop the stress-ng processes ``stress_cpu`` started (recorded by PID), if still running.

    SIGTERM to each one's process group, then SIGKILL after ``timeout_s``. Processes that
    already ended are reported, not an error; nothing is looked up by name.
    """
    path = _stress_file()
    with _stress_lock:
        entries = _read_stress_file(path)
        owned = dict(_stress_procs)
        _stress_procs.clear()
        _write_stress_file(path, [])
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


# --- fault switches --------------------------------------------------------------------------


def _faults_request(
    method: str, service: str, body: dict[str, Any] | None, client: httpx.Client | None
) -> dict[str, Any]:
    url = f"{service_url(service)}/admin/faults"
    own = client is None
    http = httpx.Client(timeout=_HTTP_TIMEOUT_S) if client is None else client
    try:
        response = http.request(method, url, json=body)
    except httpx.HTTPError as exc:
        raise ActivityFailed(
            f"{method} {url} failed ({type(exc).__name__}: {exc}); "
            f"is {service!r} up? check `chaosgate stack status`"
        ) from exc
    finally:
        if own:
            http.close()
    if response.status_code == 404:
        raise ActivityFailed(
            f"{method} {url} answered 404: the admin fault endpoint is off on {service!r}; "
            "the local stack turns it on with CHAOSGATE_ADMIN_FAULTS=1"
        )
    if response.status_code >= 300:
        raise ActivityFailed(
            f"{method} {url} answered HTTP {response.status_code}: {_error_text(response)}"
        )
    try:
        payload = response.json()
    except ValueError:
        raise ActivityFailed(f"{method} {url} answered non-JSON: {response.text[:300]}") from None
    if not isinstance(payload, dict):
        raise ActivityFailed(f"{method} {url} answered {payload!r}, not a JSON object")
    return payload


def _error_text(response: httpx.Response) -> str:
    """The service's own error message (``{"error": ...}``), else the body's start."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return str(payload["error"])
    return response.text[:300]


def set_faults(
    service: str,
    error_ratio: float | None = None,
    latency_ms: int | None = None,
    route_prefix: str | None = None,
    db_hold_ms: int | None = None,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Turn on injected faults on ``service`` (``PUT /admin/faults``); returns what is now set.

    Only the settings given are changed; the service validates them (a bad value is a 400
    whose message is passed on). ``client`` is for tests; experiments leave it out.
    """
    body = {
        key: value
        for key, value in (
            ("error_ratio", error_ratio),
            ("latency_ms", latency_ms),
            ("route_prefix", route_prefix),
            ("db_hold_ms", db_hold_ms),
        )
        if value is not None
    }
    if not body:
        raise ActivityFailed(
            f"set_faults on {service!r} got no fault; give at least one of "
            "error_ratio, latency_ms, route_prefix, db_hold_ms"
        )
    return _faults_request("PUT", service, body, client)


def clear_faults(service: str, client: httpx.Client | None = None) -> dict[str, Any]:
    """Turn every injected fault off on ``service`` (``DELETE /admin/faults``)."""
    return _faults_request("DELETE", service, None, client)
