"""A crash loop on the local stack: one supervised program killed again each time it is back.

``crash_repeatedly`` kills the program's process group (as ``kill_service`` does), waits until
supervisord runs a *new* process for it, kills that one, and so on, ``times`` kills in all. A
new PID alone is not "back" for a restaurant service: the stack starts it as
``sh -c 'sleep <restart delay>; exec gunicorn ...'``, so supervisord reports the new PID while
the shell still sleeps, and a kill then would end a process that never served (no new
``process_start_time_seconds`` would be scraped, and the restart alerts count those). So for a
service it also waits until the service answers ``/healthz`` and then ``settle_s`` more, long
enough for Prometheus (scraping every 1 s) to record the new process, before the next kill.

Nothing outlives a crash of the runner here: supervisord restarts the program after the last
kill, and the experiment's rollback (``start_program``) makes sure it runs.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_processes import kill_service, parse_signal
from chaosgate.chaos.local_stack import current_stack, program_info, service_url, supervisor
from chaosgate.http_clients import new_http_client
from refstack.launcher.configs import SERVICES

__all__ = ["MAX_KILLS", "crash_repeatedly"]

MAX_KILLS = 10
_POLL_S = 0.2
_HTTP_TIMEOUT_S = 1.0


def _number(name: str, value: object, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ActivityFailed(f"{name} must be a number of seconds >= {minimum:g}, got {value!r}")
    return float(value)


def crash_repeatedly(
    name: str,
    times: int = 3,
    signal: str = "SIGKILL",
    timeout_s: float = 60.0,
    settle_s: float = 2.0,
) -> dict[str, Any]:
    """Kill the supervised program ``name`` ``times`` times, each time as soon as it is back.

    ``timeout_s`` bounds each wait for the next process (the stack's restart delay is 10 s,
    plus the service's start). Returns each kill's PID and time (unix seconds).
    """
    if isinstance(times, bool) or not isinstance(times, int) or not 1 <= times <= MAX_KILLS:
        raise ActivityFailed(f"times must be a whole number from 1 to {MAX_KILLS}, got {times!r}")
    wait_s = _number("timeout_s", timeout_s, 1.0)
    settle = _number("settle_s", settle_s, 0.0)
    sig = parse_signal(signal)
    kills: list[dict[str, Any]] = []
    started = time.time()
    for index in range(times):
        if kills:
            back_at = _wait_until_back(name, kills[-1]["pid"], wait_s)
            kills[-1]["back_after_s"] = round(back_at - kills[-1]["at"], 3)
            time.sleep(settle)
        killed = kill_service(name, sig.name)
        kills.append({"kill": index + 1, "pid": killed["pid"], "at": time.time()})
    return {"name": name, "signal": sig.name, "kills": kills, "took_s": time.time() - started}


def _wait_until_back(name: str, old_pid: int, timeout_s: float) -> float:
    """When a new process of ``name`` runs (and, for a service, answers its health check)."""
    layout, _record = current_stack()
    client = supervisor(layout)
    health = f"{service_url(name)}/healthz" if name in SERVICES else None
    deadline = time.monotonic() + timeout_s
    with new_http_client(_HTTP_TIMEOUT_S) as http:
        while True:
            info = program_info(client, layout, name)
            pid = int(info.get("pid") or 0)
            state = info.get("statename")
            new = state == "RUNNING" and pid > 0 and pid != old_pid
            if new and (health is None or _healthy(http, health)):
                return time.time()
            if state == "FATAL":
                raise ActivityFailed(
                    f"{name!r} went FATAL after kill (supervisord gave up restarting it); "
                    f"see {layout.log_dir / (name + '.out.log')}"
                )
            if time.monotonic() > deadline:
                what = "answering its health check" if health else "running again"
                raise ActivityFailed(
                    f"{name!r} was not {what} within {timeout_s:g} s of the kill of pid {old_pid} "
                    f"(supervisord: {state}, pid {pid}); raise timeout_s above the stack's "
                    "restart delay plus its start time, or check `chaosgate stack status`"
                )
            time.sleep(_POLL_S)


def _healthy(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).is_success
    except httpx.HTTPError:
        return False
