"""``chaosgate stack up | down | status``: the local reference stack's life cycle.

``up`` checks ports and programs, builds what is missing, renders every config, starts
supervisord (which outlives the CLI), starts the parts in order and waits for each health
check. It writes a record of what it started; ``status`` and ``down`` act on that record only,
so ``down`` stops what ``up`` started and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from chaosgate.stack.builds import ensure_builds, find_system_binaries
from chaosgate.stack.configs import LOG_INDEX_TEMPLATE, write_configs
from chaosgate.stack.health import PartRow, PartStatus, probe_parts
from chaosgate.stack.layout import StackLayout
from chaosgate.stack.parts import DEFAULT_RESTART_DELAY_S, Part, build_parts
from chaosgate.stack.ports import PortError, find_taken_ports
from chaosgate.stack.supervisor import (
    SupervisorClient,
    render_supervisord_conf,
    supervisord_command,
)

__all__ = [
    "StackError",
    "StackRecord",
    "read_record",
    "stack_down",
    "stack_status",
    "stack_up",
    "start_supervisord",
]

Report = Callable[[str], None]

# parts that need OpenSearch answering before they start
_AFTER_OPENSEARCH = ("jaeger", "rsyslog")


class StackError(Exception):
    """The stack cannot be started, stopped or inspected; the message says what to do."""


@dataclass(frozen=True)
class StackRecord:
    ports: dict[str, int]
    supervisord_pid: int
    started_at: float
    parts: list[PartRow]

    def save(self, path: Path) -> None:
        payload = asdict(self)
        path.write_text(json.dumps(payload, indent=2))

    @classmethod
    def load(cls, path: Path) -> StackRecord:
        payload = json.loads(path.read_text())
        return cls(
            ports=payload["ports"],
            supervisord_pid=payload["supervisord_pid"],
            started_at=payload["started_at"],
            parts=[PartRow(**row) for row in payload["parts"]],
        )


def _pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left for an init that does not reap counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def read_record(layout: StackLayout) -> StackRecord | None:
    """The running stack's record, or None when no stack from this state dir is running."""
    if not layout.record_file.is_file():
        return None
    record = StackRecord.load(layout.record_file)
    if not _pid_alive(record.supervisord_pid):
        return None
    return record


def _supervisor_processes(layout: StackLayout) -> dict[str, dict[str, object]]:
    try:
        return SupervisorClient(layout.supervisor_socket).processes()
    except OSError:
        return {}


def stack_status(layout: StackLayout, client: httpx.Client) -> list[PartStatus] | None:
    """Every recorded part's status, or None when no stack is running."""
    record = read_record(layout)
    if record is None:
        return None
    return probe_parts(record.parts, _supervisor_processes(layout), client)


def start_supervisord(layout: StackLayout, parts: Sequence[Part]) -> SupervisorClient:
    conf = layout.config_dir / "supervisord.conf"
    conf.write_text(render_supervisord_conf(layout, [part.program for part in parts]))
    layout.supervisor_socket.unlink(missing_ok=True)
    proc = subprocess.run(
        supervisord_command(conf), capture_output=True, text=True, check=False, timeout=60
    )
    if proc.returncode != 0:
        raise StackError(
            f"supervisord did not start (exit {proc.returncode}): {proc.stderr.strip()}; "
            f"see {layout.log_dir / 'supervisord.log'}"
        )
    client = SupervisorClient(layout.supervisor_socket)
    deadline = time.monotonic() + 20
    while True:
        try:
            if client.state() == "RUNNING":
                return client
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise StackError(
                f"supervisord did not answer on {layout.supervisor_socket} within 20 s; "
                f"see {layout.log_dir / 'supervisord.log'}"
            )
        time.sleep(0.2)


def _wait_healthy(
    layout: StackLayout,
    rows: Sequence[PartRow],
    http: httpx.Client,
    timeout_s: float,
    report: Report,
    announced: set[str],
) -> list[PartStatus]:
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = probe_parts(rows, _supervisor_processes(layout), http)
        for status in statuses:
            if status.healthy and status.name not in announced:
                announced.add(status.name)
                report(f"  {status.name} is up")
            if status.process == "FATAL":
                raise StackError(
                    f"{status.name} keeps exiting ({status.detail}); "
                    f"see {layout.log_dir / (status.name + '.out.log')}"
                )
        if all(status.healthy for status in statuses):
            return statuses
        if time.monotonic() > deadline:
            waiting = [s for s in statuses if not s.healthy]
            names = ", ".join(f"{s.name} ({s.detail})" for s in waiting)
            logs = ", ".join(str(layout.log_dir / f"{s.name}.out.log") for s in waiting)
            raise StackError(f"not healthy after {timeout_s:.0f} s: {names}; see {logs}")
        time.sleep(0.5)


def _install_log_template(opensearch_url: str, http: httpx.Client) -> None:
    url = f"{opensearch_url}/_index_template/restaurant-logs"
    try:
        response = http.put(url, json=LOG_INDEX_TEMPLATE)
    except httpx.HTTPError as exc:
        raise StackError(f"could not install the log index template at {url}: {exc}") from exc
    if response.status_code >= 300:
        raise StackError(
            f"OpenSearch refused the log index template at {url}: "
            f"HTTP {response.status_code} {response.text[:300]}"
        )


def stack_up(
    layout: StackLayout,
    ports: Mapping[str, int],
    http: httpx.Client,
    *,
    report: Report,
    timeout_s: float = 300.0,
    restart_delay_s: int = DEFAULT_RESTART_DELAY_S,
) -> list[PartStatus]:
    """Start the whole stack and wait until every part is healthy; return the final status."""
    existing = read_record(layout)
    if existing is not None:
        if dict(existing.ports) != dict(ports):
            raise StackError(
                f"a stack is already running from {layout.state_dir} with other ports; "
                "run `chaosgate stack down` first"
            )
        report("stack already running; checking its parts")
        client = SupervisorClient(layout.supervisor_socket)
        for row in existing.parts:
            client.start(row.name)
        return _wait_healthy(layout, existing.parts, http, timeout_s, report, set())

    taken = find_taken_ports(ports)
    if taken:
        raise PortError("; ".join(taken))
    binaries = find_system_binaries()
    builds = ensure_builds(layout, report=report)
    configs = write_configs(layout, ports)
    parts = build_parts(layout, ports, builds, binaries, configs, restart_delay_s=restart_delay_s)
    for part in parts:
        (layout.run_dir / f"{part.name}.started").unlink(missing_ok=True)
    (layout.data_dir / "sink").mkdir(parents=True, exist_ok=True)

    report("starting supervisord")
    client = start_supervisord(layout, parts)
    rows = [PartRow(part.name, part.url, part.health_url) for part in parts]
    StackRecord(dict(ports), client.pid(), time.time(), rows).save(layout.record_file)

    try:
        return _start_in_order(layout, client, rows, http, timeout_s, report)
    except StackError as exc:
        raise StackError(f"{exc}; `chaosgate stack down` stops what did start") from exc


def _start_in_order(
    layout: StackLayout,
    client: SupervisorClient,
    rows: Sequence[PartRow],
    http: httpx.Client,
    timeout_s: float,
    report: Report,
) -> list[PartStatus]:
    by_name = {row.name: row for row in rows}
    for row in rows:
        if row.name not in _AFTER_OPENSEARCH:
            report(f"starting {row.name}")
            client.start(row.name)
    announced: set[str] = set()
    _wait_healthy(layout, [by_name["opensearch"]], http, timeout_s, report, announced)
    _install_log_template(by_name["opensearch"].url, http)
    for name in _AFTER_OPENSEARCH:
        report(f"starting {name}")
        client.start(name)
    return _wait_healthy(layout, rows, http, timeout_s, report, announced)


def stack_down(layout: StackLayout, *, report: Report, timeout_s: float = 90.0) -> bool:
    """Stop what ``up`` started; False when nothing was running."""
    record = read_record(layout)
    if record is None:
        layout.record_file.unlink(missing_ok=True)
        return False
    report(f"stopping supervisord (pid {record.supervisord_pid}) and every part it runs")
    try:
        SupervisorClient(layout.supervisor_socket).shutdown()
    except OSError as exc:
        raise StackError(
            f"supervisord (pid {record.supervisord_pid}) did not answer on "
            f"{layout.supervisor_socket}: {exc}; stop it with `kill {record.supervisord_pid}`"
        ) from exc
    deadline = time.monotonic() + timeout_s
    while _pid_alive(record.supervisord_pid):
        if time.monotonic() > deadline:
            raise StackError(
                f"supervisord (pid {record.supervisord_pid}) still running after {timeout_s:.0f} s"
            )
        time.sleep(0.2)
    layout.record_file.unlink(missing_ok=True)
    return True
