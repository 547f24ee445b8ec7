"""A log flood through the real shipper into the real store, and what reached it (``type: python``).

``flood_logs`` turns the services' ``log_lines_per_s`` fault switch on (refstack/CONTRACT.md:
each service writes its share of the rate through its own logger into its log file, which the
shipper tails), counts the flood's lines in the log store once a ``poll_s`` while it runs,
turns the switches off after ``duration_s``, then keeps counting until every line the services
say they wrote is searchable or ``deadline_s`` has passed since the flood ended. It returns
the observation (the journal keeps it); :mod:`assertions.checks.log_flood` judges it.

The lines are found by their request ids, ``flood-<flood id>-<n>`` (a ``prefix`` query on the
keyword field, one per service's flood id, in one ``_count``). Its rollback is
``clear_faults`` on each service (every switch off, the flood with them); ``chaosgate cleanup``
does the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import psutil
from chaoslib.exceptions import ActivityFailed

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.errors import BackendError
from chaosgate.chaos.local_faults import set_faults
from chaosgate.chaos.local_stack import current_stack, program_info, service_url, supervisor
from chaosgate.http_clients import new_http_client
from chaosgate.vocabulary import Clock
from refstack.launcher.configs import SERVICES
from refstack.launcher.parts import part_urls

__all__ = ["MAX_FLOOD_S", "PartsCpu", "flood_logs", "parts_cpu", "split_rate"]

MAX_FLOOD_S = 600.0
_HTTP_TIMEOUT_S = 10.0
LOG_INDEX = "restaurant-logs-*"


class PartsCpu:
    """CPU seconds of the stack's parts (each program with its children) and of the machine,
    between :meth:`start` and :meth:`cores`: where a flood that falls behind saturates."""

    def __init__(self, pids: dict[str, int]) -> None:
        self._processes = {name: psutil.Process(pid) for name, pid in pids.items() if pid}
        self._before: dict[str, float] = {}
        self._machine_before = psutil.cpu_times()

    @staticmethod
    def _seconds(process: psutil.Process) -> float:
        total = 0.0
        for member in [process, *process.children(recursive=True)]:
            try:
                times = member.cpu_times()
            except psutil.Error:
                continue  # gone meanwhile
            total += times.user + times.system
        return total

    def start(self) -> None:
        self._machine_before = psutil.cpu_times()
        self._before = {name: self._seconds(p) for name, p in self._processes.items()}

    def cores(self, wall_s: float) -> dict[str, float]:
        """Cores each part kept busy on average since :meth:`start`, and ``machine_busy``: the
        share of all the machine's CPUs that were busy."""
        used = {
            name: round((self._seconds(p) - self._before.get(name, 0.0)) / wall_s, 2)
            for name, p in self._processes.items()
        }
        after = psutil.cpu_times()
        idle = (after.idle + getattr(after, "iowait", 0.0)) - (
            self._machine_before.idle + getattr(self._machine_before, "iowait", 0.0)
        )
        total = sum(after) - sum(self._machine_before)
        used["machine_busy"] = round(1 - idle / total, 3) if total > 0 else 0.0
        return used


def parts_cpu(names: Sequence[str]) -> PartsCpu:
    """A :class:`PartsCpu` of the running stack's ``names`` (their PIDs from supervisord)."""
    layout, _record = current_stack()
    client = supervisor(layout)
    return PartsCpu(
        {name: int(program_info(client, layout, name).get("pid") or 0) for name in names}
    )


def split_rate(lines_per_s: int, services: Sequence[str]) -> dict[str, int]:
    """``lines_per_s`` shared out over ``services`` (the first ones take the remainder)."""
    share, extra = divmod(lines_per_s, len(services))
    return {name: share + (1 if index < extra else 0) for index, name in enumerate(services)}


def _flood_state(http: httpx.Client, service: str) -> dict[str, Any]:
    url = f"{service_url(service)}/admin/faults/log-flood"
    try:
        response = http.get(url)
        response.raise_for_status()
        state = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ActivityFailed(f"GET {url} failed ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict):
        raise ActivityFailed(f"GET {url} answered {state!r}, not a JSON object")
    return state


def _stored(store: ElasticsearchBackend, flood_ids: Sequence[str]) -> int:
    """How many of the floods' lines the store finds now (the log checks' own ``_count``)."""
    should = [{"prefix": {"request_id": f"flood-{flood_id}-"}} for flood_id in flood_ids]
    try:
        return store.count({"bool": {"should": should, "minimum_should_match": 1}})
    except BackendError as exc:
        raise ActivityFailed(f"the log store's _count failed ({exc})") from exc


def flood_logs(
    lines_per_s: int,
    duration_s: float,
    services: list[str] | None = None,
    deadline_s: float = 30.0,
    poll_s: float = 1.0,
    index: str = LOG_INDEX,
    client: httpx.Client | None = None,
    clock: Clock = time.time,
    sleep: Callable[[float], None] = time.sleep,
    cpu: PartsCpu | None = None,
) -> dict[str, Any]:
    """Flood ``services`` (default: all four) with ``lines_per_s`` log lines a second in all
    for ``duration_s``; the observation: what was written, the store's count over time
    (``series``: seconds since the flood began, lines found) and the cores the services, the
    shipper and the store kept busy meanwhile (``cpu_cores``; ``cpu`` is for tests)."""
    names = list(services or SERVICES)
    unknown = sorted(set(names) - set(SERVICES))
    if unknown or not names:
        raise ActivityFailed(f"unknown service {unknown!r}; use any of {', '.join(SERVICES)}")
    if not 0 < duration_s <= MAX_FLOOD_S:
        raise ActivityFailed(f"duration_s must be above 0 and at most {MAX_FLOOD_S:.0f} s")
    if lines_per_s < len(names):
        raise ActivityFailed(f"lines_per_s must be at least one line a service ({len(names)})")
    if deadline_s < 0 or poll_s <= 0:
        raise ActivityFailed("deadline_s must be 0 or more and poll_s above 0")
    _layout, record = current_stack()
    store = part_urls(record.ports)["store"]
    rates = split_rate(lines_per_s, names)
    # the shipper and the store (its part is named after it), beside the services
    meter = parts_cpu([*names, "rsyslog", record.store]) if cpu is None else cpu
    http = new_http_client(_HTTP_TIMEOUT_S) if client is None else client
    logs = ElasticsearchBackend(http, store, index)
    series: list[list[float]] = []
    try:
        meter.start()
        began = clock()
        try:
            for name, rate in rates.items():
                set_faults(name, log_lines_per_s=rate, client=http)
            flood_ids = [str(_flood_state(http, name)["flood_id"]) for name in names]
            while (elapsed := clock() - began) < duration_s:
                sleep(min(poll_s, duration_s - elapsed))
                series.append([round(clock() - began, 3), _stored(logs, flood_ids)])
        finally:
            for name in names:
                set_faults(name, log_lines_per_s=0, client=http)
        states = {name: _flood_state(http, name) for name in names}
        emitted = sum(int(state["emitted"]) for state in states.values())
        ended = max(float(state["stopped_at"] or clock()) for state in states.values())
        stored = series[-1][1] if series else 0
        while stored < emitted and clock() - ended < deadline_s:
            sleep(poll_s)
            stored = _stored(logs, flood_ids)
            series.append([round(clock() - began, 3), stored])
        all_after = clock() - ended if stored >= emitted else None
        cores = meter.cores(max(clock() - began, 1e-3))
    finally:
        if client is None:
            http.close()
    started = min(float(state["started_at"]) for state in states.values())
    return {
        "lines_per_s": lines_per_s,
        "rates": rates,
        "duration_s": duration_s,
        "written_s": round(ended - started, 3),
        "emitted": emitted,
        "stored_by_deadline": stored,
        "deadline_s": deadline_s,
        "all_stored_after_s": None if all_after is None else round(all_after, 3),
        "series": series,
        "floods": states,
        "index": index,
        "cpu_cores": cores,
    }
