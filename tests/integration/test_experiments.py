"""The local experiments run through run_experiment against the real local stack.

They check what the experiments do to the stack (the fault is on during the window and gone
after the rollback; a killed service comes back as a new process); whether the expected
alerts fire is the runner's check, not these tests'.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil
import pytest
from restaurant.common.fault_config import FaultConfig

from chaosgate.chaos.experiments import run_experiment
from chaosgate.chaos.timeline import Timeline
from refstack.launcher.supervisor import SupervisorClient
from tests.integration.conftest import LocalStack

pytestmark = pytest.mark.integration

LOCAL = Path(__file__).resolve().parents[2] / "experiments" / "local"
NO_FAULTS = FaultConfig().as_json()  # what a service's GET /admin/faults says with none on


def _say(message: str) -> None:
    print(f"[figure] {message}", flush=True)


class _Traffic:
    """Requests to one URL from a thread while the experiment runs in the main thread."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.statuses: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            while not self._stop.is_set():
                try:
                    self.statuses.append((time.time(), client.get(self.url).status_code))
                except httpx.HTTPError:
                    self.statuses.append((time.time(), 0))
                self._stop.wait(0.05)

    def __enter__(self) -> _Traffic:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def test_gateway_error_ratio_injects_and_rolls_back(
    local_stack: LocalStack, http: httpx.Client
) -> None:
    gateway = local_stack.urls["gateway"]
    assert http.delete(f"{gateway}/admin/faults").status_code == 200
    timeline = Timeline()

    with _Traffic(f"{gateway}/api/menu") as traffic:
        journal = run_experiment(LOCAL / "gateway-error-ratio.json", timeline=timeline)

    assert journal["status"] == "completed", journal
    assert journal["deviated"] is False
    [window] = timeline.experiment_spans()
    assert window.inject_at is not None and window.rollback_at is not None
    assert window.rollback_at - window.inject_at >= 30  # the fault stays on for its pause
    _say(f"gateway-error-ratio fault window {window.rollback_at - window.inject_at:.1f} s")

    # the fault was on in the window: about half of the /api answers were injected 500s
    during = Counter(
        s for t, s in traffic.statuses if window.inject_at + 1 < t < window.rollback_at - 1
    )
    assert during[500] > 0 and during[200] > 0, during
    assert 0.3 < during[500] / sum(during.values()) < 0.7, during

    # and it is off afterwards
    assert http.get(f"{gateway}/admin/faults").json() == NO_FAULTS
    assert all(http.get(f"{gateway}/api/menu").status_code == 200 for _ in range(20))


def test_kill_users_service_brings_back_a_new_process(
    local_stack: LocalStack, http: httpx.Client
) -> None:
    supervisor = SupervisorClient(local_stack.layout.supervisor_socket)
    before = supervisor.process("users")
    assert before["statename"] == "RUNNING"
    old_pid = int(before["pid"])
    timeline = Timeline()

    journal = run_experiment(LOCAL / "kill-users-service.json", timeline=timeline)

    assert journal["status"] == "completed", journal
    assert journal["deviated"] is False
    assert journal["run"][0]["output"]["pid"] == old_pid
    [window] = timeline.experiment_spans()
    assert window.inject_at is not None and window.rollback_at is not None

    after = supervisor.process("users")
    assert after["statename"] == "RUNNING"
    assert int(after["pid"]) != old_pid
    assert not psutil.pid_exists(old_pid) or psutil.Process(old_pid).status() == "zombie"
    assert http.get(f"{local_stack.urls['users']}/healthz").status_code == 200
    _say(
        f"users service back as pid {after['pid']} (was {old_pid}); "
        f"experiment took {journal['duration']:.1f} s"
    )
