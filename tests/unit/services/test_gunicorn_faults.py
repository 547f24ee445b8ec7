"""The connection faults under a real gunicorn (the server the stack runs), on 127.0.0.1.

Each test starts the services it needs the way the stack does (chaosgate/stack/parts.py:
gunicorn, one gthread worker, the app factory), on free ports, in a session of their own, and
stops them by PID. What the in-process tests cannot show is checked here: a dropped connection
is a transport error for a real HTTP client, the gateway counts it as an upstream ``reset``,
and gunicorn's worker survives it quietly; held connections starve real requests.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from tests.unit.services.support import metric_value

REPO_ROOT = Path(__file__).resolve().parents[3]
USER = {"name": "Ada", "email": "ada@example.com"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    stderr: Path

    def worker_pids(self) -> list[int]:
        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def metric(self, name: str, **labels: str) -> float | None:
        return metric_value(httpx.get(f"{self.url}/metrics").text, name, **labels)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # gunicorn: quick shutdown
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


Start = Callable[..., Served]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Start]:
    started: list[Served] = []

    def run(service: str, **env: str) -> Served:
        port = _free_port()
        stderr = tmp_path / f"{service}.err"
        environ = {
            **os.environ,
            "SERVICE_NAME": service,
            "PYTHONPATH": str(REPO_ROOT / "stack" / "services"),
            "DATABASE_URL": f"sqlite:///{tmp_path / (service + '.db')}",
            "LOG_FILE": str(tmp_path / f"{service}.log"),
            "OTEL_TRACES_EXPORTER": "none",
            "CHAOSGATE_ADMIN_FAULTS": "1",
            **env,
        }
        command = [
            sys.executable, "-m", "gunicorn",
            "--bind", f"127.0.0.1:{port}",
            "--workers", "1", "--worker-class", "gthread", "--threads", "16",
            "--graceful-timeout", "1", "--no-control-socket",  # the stack: 5 (quick teardown)
            f"restaurant.{service}.app:create_app()",
        ]  # fmt: skip
        with stderr.open("wb") as err:
            process = subprocess.Popen(
                command,
                env=environ,
                cwd=tmp_path,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        served = Served(service, f"http://127.0.0.1:{port}", process, stderr)
        started.append(served)
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{served.url}/healthz", timeout=1).status_code == 200:
                    return served
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{service} did not start: {stderr.read_text()[-2000:]}")
            time.sleep(0.1)

    yield run
    for served in started:
        served.stop()


def test_dropped_connections_fail_in_transport_and_the_worker_survives(start: Start) -> None:
    users = start("users")
    gateway = start("gateway", USERS_URL=users.url)
    workers = users.worker_pids()
    assert len(workers) == 1
    faults = {"drop_connection_ratio": 1.0, "route_prefix": "/api/users", "methods": ["POST"]}
    assert httpx.put(f"{users.url}/admin/faults", json=faults).status_code == 200

    with pytest.raises(httpx.TransportError):  # the client itself: no answer, a closed socket
        httpx.post(f"{users.url}/api/users", json=USER, timeout=5)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for _ in range(5):
            answer = client.post("/api/users", json=USER)
            assert answer.status_code == 502
            assert answer.json() == {"error": "upstream 'users' dropped the connection"}
        assert client.get("/api/users/1").status_code == 404  # a GET still reaches the handler

    assert gateway.metric("gateway_upstream_errors_total", upstream="users", kind="reset") == 5.0
    assert gateway.metric("gateway_upstream_errors_total", upstream="users", kind="connect") == 0
    assert users.metric("http_requests_total", route="/api/users") is None  # never answered
    assert users.worker_pids() == workers  # the same worker served on
    quiet = users.stderr.read_text()
    assert "Traceback" not in quiet and "[ERROR]" not in quiet, quiet

    # half of them: the others are answered, on connections the gateway keeps alive
    httpx.put(f"{users.url}/admin/faults", json={"drop_connection_ratio": 0.5})
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        codes = [
            client.post(
                "/api/users", json={"name": "Bo", "email": f"bo{i}@example.com"}
            ).status_code
            for i in range(40)
        ]
    assert set(codes) == {201, 502}
    assert 8 <= codes.count(502) <= 32  # Binomial(40, 0.5): outside this 1 run in ~40,000
    resets = gateway.metric("gateway_upstream_errors_total", upstream="users", kind="reset")
    assert resets == 5 + codes.count(502)
    assert users.worker_pids() == workers

    assert httpx.delete(f"{users.url}/admin/faults").status_code == 200
    assert httpx.post(f"{gateway.url}/api/users", json=USER, timeout=10).status_code == 201


def test_held_connections_starve_real_requests(start: Start) -> None:
    users = start("users", DB_POOL_SIZE="5", DB_POOL_TIMEOUT_S="0.5")
    assert httpx.put(f"{users.url}/admin/faults", json={"db_hold_connections": 5}).is_success
    deadline = time.monotonic() + 10
    while users.metric("db_pool_in_use") != 5.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert users.metric("db_pool_in_use") == 5.0
    assert users.metric("db_pool_size") == 5.0
    starved = httpx.post(f"{users.url}/api/users", json=USER, timeout=10)
    assert starved.status_code == 503
    assert "pool exhausted" in starved.json()["error"]

    assert httpx.delete(f"{users.url}/admin/faults").is_success
    deadline = time.monotonic() + 10
    while users.metric("db_pool_in_use") != 0.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert users.metric("db_pool_in_use") == 0.0
    assert httpx.post(f"{users.url}/api/users", json=USER, timeout=10).status_code == 201
