"""A real Locust master and two workers on 127.0.0.1, each in a working directory of its own,
running the suite's locustfile against a loopback server of the test's own: the workers send
their ledger entries to the master over Locust's messaging, and the master writes the one
ledger file. Workers are given no ledger directory: they need no shared disk."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from chaosgate.request_ledger import read_ledger
from chaosgate.run.load import LOCUSTFILE, free_local_port
from scenarios.tracing import new_request_ids, user_rng
from tests.support.servers import KeepAliveServer
from tests.support.waiting import wait_until

pytestmark = pytest.mark.processes  # real Locust processes for about 15 s each

MENU = json.dumps({"items": [{"id": n, "name": f"dish {n}", "price_cents": 900} for n in (1, 2)]})
TOO_LONG_S = 90  # every process is gone well before this


class _Restaurant(BaseHTTPRequestHandler):
    """Answers what the users ask with a body they can use; holds every answer while the
    server's ``open`` event is clear (at most :data:`HOLD_AT_MOST_S`)."""

    server: HoldingServer
    protocol_version = "HTTP/1.1"

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.in_flight += 1
        self.server.open.wait(HOLD_AT_MOST_S)
        with self.server.lock:
            self.server.in_flight -= 1
        if self.path == "/api/menu":
            body = MENU
        elif self.command == "GET":  # an order's status
            body = json.dumps({"id": 1, "status": "served"})
        else:  # a user, an order, a payment, a device's report
            body = json.dumps({"id": 1, "status": "accepted", "total_cents": 900})
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = _answer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass


class HoldingServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Restaurant)
        self.open = threading.Event()
        self.open.set()
        self.lock = threading.Lock()
        self.in_flight = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


HOLD_AT_MOST_S = 15.0


@pytest.fixture
def holding_server() -> Iterator[HoldingServer]:
    served = HoldingServer()
    threading.Thread(target=served.serve_forever, daemon=True).start()
    try:
        yield served
    finally:
        served.open.set()
        served.shutdown()
        served.server_close()


@pytest.fixture
def server() -> Iterator[str]:
    served = KeepAliveServer("127.0.0.1", MENU.encode())
    try:
        yield f"http://127.0.0.1:{served.port}"
    finally:
        served.close()


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAOSGATE_", "LOCUST_"))}
    env["PYTHONPATH"] = str(LOCUSTFILE.parents[1])
    return env


class Load:
    """A master and its workers, each a process in a directory of its own under ``root``."""

    def __init__(self, root: Path, host: str, *, workers: int, run_time_s: int) -> None:
        self.root = root
        self.port = free_local_port()
        master_dir = root / "master"
        master_dir.mkdir()
        self.ledger = master_dir / "ledger"
        self.stats = master_dir / "locust"
        master_env = _base_env() | {
            "CHAOSGATE_LEDGER_DIR": str(self.ledger),
            "CHAOSGATE_RUN_ID": "distributed-test",  # also: every process watches its parent
            "CHAOSGATE_SEED": "1",
            "CHAOSGATE_IOT_DEVICES": "4",
        }
        master_command = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(self.port),
            "--expect-workers", str(workers), "--expect-workers-max-wait", "30",
            "--host", host, "--users", "12", "--spawn-rate", "12",
            "--run-time", f"{run_time_s}s", "--stop-timeout", "3",
            "--json-file", str(self.stats), "--only-summary", "--exit-code-on-error", "0",
        ]  # fmt: skip
        self.master_log = master_dir / "locust.log"
        self.master = self._start(master_command, master_dir, master_env, self.master_log)
        self.workers: list[subprocess.Popen[bytes]] = []
        for number in range(workers):
            worker_dir = root / f"worker-{number}"
            worker_dir.mkdir()
            worker_command = [
                sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--worker",
                "--master-host", "127.0.0.1", "--master-port", str(self.port),
            ]  # fmt: skip
            worker_env = _base_env() | {"CHAOSGATE_IOT_DEVICES": "4"}
            self.workers.append(
                self._start(worker_command, worker_dir, worker_env, worker_dir / "locust.log")
            )

    @staticmethod
    def _start(
        command: list[str], cwd: Path, env: dict[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        with log.open("wb") as out:
            return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)

    def wait(self) -> None:
        for proc in (self.master, *self.workers):
            proc.wait(timeout=TOO_LONG_S)

    def stop(self) -> None:
        for proc in (self.master, *self.workers):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    def locust_requests(self) -> int:
        stats: list[dict[str, Any]] = json.loads(Path(f"{self.stats}.json").read_text())
        return sum(int(entry["num_requests"]) for entry in stats)

    def account(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads((self.ledger / "workers.json").read_text())
        return document

    def wait_until_both_send(self) -> None:
        """Until the master's ledger names users of both workers."""

        def workers_seen() -> bool:
            if not list(self.ledger.glob("ledger-*.jsonl")):
                return False
            return {e.user.split("/")[1] for e in read_ledger(self.ledger)} == {"0", "1"}

        wait_until(
            workers_seen,
            timeout_s=40,
            interval_s=0.2,
            message=lambda: f"entries from both workers; logs: {self.logs()}",
        )

    def logs(self) -> str:
        return "\n".join(
            f"--- {log}\n{log.read_text()[-3000:]}" for log in sorted(self.root.glob("*/*.log"))
        )


@pytest.fixture
def run(tmp_path: Path) -> Iterator[list[Load]]:
    loads: list[Load] = []
    yield loads
    for load in loads:
        load.stop()


def test_the_master_s_ledger_holds_exactly_the_requests_locust_counted(
    server: str, run: list[Load], tmp_path: Path
) -> None:
    load = Load(tmp_path, server, workers=2, run_time_s=8)
    run.append(load)
    load.wait()

    assert load.master.returncode == 0, load.logs()
    entries = read_ledger(load.ledger)
    counted = load.locust_requests()
    assert counted > 50, load.logs()  # a load, not a trickle
    assert len(entries) == counted, load.logs()
    assert [path.name for path in load.ledger.glob("ledger-*.jsonl")] == [
        path.name for path in load.ledger.iterdir() if path.suffix == ".jsonl"
    ]
    assert len(list(load.ledger.glob("ledger-*.jsonl"))) == 1  # one file: the master's
    for number in range(2):  # the workers wrote nothing of their own
        assert sorted(p.name for p in (tmp_path / f"worker-{number}").iterdir()) == ["locust.log"]
    account = load.account()
    assert account["lost_workers"] == [] and account["missing_entries"] == 0
    assert account["received"] == counted
    workers = account["workers"]
    assert sorted(worker["index"] for worker in workers) == [0, 1]
    for worker in workers:  # both sent, and both said goodbye with a final batch
        assert worker["final"] and worker["received"] == worker["locust_requests"] > 0
    # the entries name their worker: user keys carry the worker index
    assert {entry.user.split("/")[1] for entry in entries} == {"0", "1"}
    assert len({entry.trace_id for entry in entries}) == len(entries)
    # the workers, given no CHAOSGATE_* settings, took the master's seed and run id: the
    # first request of each worker's first customer carries the ids they make
    for worker in ("0", "1"):
        key = f"Customer/{worker}/0"
        ids = user_rng(1, "ids", "distributed-test", int(worker), "Customer", 0)
        first = min((e for e in entries if e.user == key), key=lambda e: e.started_at)
        assert first.trace_id == new_request_ids(ids).trace_id


def test_a_worker_killed_mid_request_is_reported_lost_with_its_missing_entries(
    holding_server: HoldingServer, run: list[Load], tmp_path: Path
) -> None:
    load = Load(tmp_path, holding_server.url, workers=2, run_time_s=16)
    run.append(load)
    load.wait_until_both_send()
    holding_server.open.clear()  # every request now waits: the users are caught mid-request
    wait_until(
        lambda: holding_server.in_flight >= 8,
        timeout_s=10,
        message=lambda: f"requests held: {holding_server.in_flight}",
    )
    time.sleep(1.5)  # three flush intervals: the workers' batches tell the requests begun
    held = holding_server.in_flight
    victim = load.workers[0]
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    holding_server.open.set()
    load.wait()

    assert load.master.returncode == 0, load.logs()
    account = load.account()
    [lost] = account["lost_workers"]
    by_id = {worker["worker"]: worker for worker in account["workers"]}
    gone, survivor = by_id[lost], next(w for w in by_id.values() if w["worker"] != lost)
    assert gone["lost"] and not gone["final"]
    assert gone["received"] > 0
    # its held requests had begun and will never have entries: counted, not lost silently
    assert 1 <= gone["missing_entries"] <= held
    assert gone["missing_entries"] == gone["started"] - gone["received"]
    assert account["missing_entries"] == gone["missing_entries"]
    # the survivor's count is exact; the ledger holds every entry that reached the master
    assert survivor["final"] and not survivor["lost"] and survivor["missing_entries"] == 0
    assert survivor["received"] == survivor["locust_requests"] > 0
    assert len(read_ledger(load.ledger)) == account["received"]
    assert "lost before its final batch" in load.master_log.read_text()


def test_a_sigterm_to_the_master_ends_the_load_within_two_seconds_with_its_account(
    server: str, run: list[Load], tmp_path: Path
) -> None:
    load = Load(tmp_path, server, workers=2, run_time_s=60)
    run.append(load)
    load.wait_until_both_send()
    signalled = time.monotonic()
    os.kill(load.master.pid, signal.SIGTERM)  # as the runner stops a load it interrupts
    load.master.wait(timeout=TOO_LONG_S)
    took = time.monotonic() - signalled
    load.wait()

    assert took < 2.0, f"the master took {took:.1f} s; logs: {load.logs()}"
    account = load.account()
    assert len(read_ledger(load.ledger)) == account["received"] > 0
    for worker in account["workers"]:  # each said goodbye in time, or is counted lost
        assert worker["final"] or worker["worker"] in account["lost_workers"]
