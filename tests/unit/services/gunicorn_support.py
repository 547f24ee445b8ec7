"""Restaurant services under a real gunicorn on 127.0.0.1, started and stopped by PID.

The command is the stack's (refstack/launcher/parts.py: gunicorn, one gthread worker, the app
factory) on a free port, in a session of its own; ``start`` is a pytest fixture that stops
everything it started at the end of the test (SIGINT, gunicorn's quick shutdown, to the
process group it made).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from refstack.launcher.parts import KEEP_ALIVE_S
from tests.support.waiting import wait_until
from tests.unit.services.support import metric_value

__all__ = ["Served", "Start", "free_port", "start"]

REPO_ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
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
        port = free_port()
        stderr = tmp_path / f"{service}.err"
        environ = {
            **os.environ,
            "SERVICE_NAME": service,
            "PYTHONPATH": str(REPO_ROOT / "refstack" / "services"),
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
            "--graceful-timeout", "1",  # the stack: 5 (quick teardown)
            "--keep-alive", str(KEEP_ALIVE_S), "--no-control-socket",
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

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"{service} exited: {stderr.read_text()[-2000:]}")
            return httpx.get(f"{served.url}/healthz", timeout=1).status_code == 200

        wait_until(
            healthy,
            timeout_s=30,
            interval_s=0.1,
            ignoring=(httpx.TransportError,),
            message=lambda: f"{service} to start: {stderr.read_text()[-2000:]}",
        )
        return served

    yield run
    for served in started:
        served.stop()
