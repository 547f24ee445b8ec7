"""A Kubernetes run SIGKILLed during its faults, then `chaosgate cleanup --target local-k8s`:
the detached Service selects its pods again and the stress Job and its pod are gone, through
the real API."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from kubernetes import client

from chaosgate.chaos.k8s_actions import ORIGINAL_SELECTOR_ANNOTATION
from tests.integration.k8s.conftest import K8sStack
from tests.integration.support import chaosgate_env
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "experiments" / "k8s"
NS = "restaurant"
STRESS = "app.kubernetes.io/name=chaosgate-stress,app.kubernetes.io/component=cpu"  # its pod
STRESS_JOB = "metadata.name=chaosgate-stress-cpu"


def _say(message: str) -> None:
    print(f"[figure] {message}", flush=True)


def _held_faults(path: Path) -> Path:
    """The stress Job of saturate-node-cpu and the detached Service of
    remove-orders-endpoints at once, held until the runner dies."""
    method: list[dict[str, Any]] = []
    rollbacks: list[dict[str, Any]] = []
    configuration: dict[str, Any] = {}
    for name in ("saturate-node-cpu", "remove-orders-endpoints"):
        doc = json.loads((K8S / f"{name}.json").read_text())
        configuration.update(doc.get("configuration") or {})
        method += [{k: v for k, v in a.items() if k != "pauses"} for a in doc["method"]]
        rollbacks += doc["rollbacks"]
    method[-1]["pauses"] = {"after": 120}
    path.write_text(
        json.dumps(
            {
                "version": "1.0.0",
                "title": "a stress Job and a detached Service, held",
                "description": "the interrupted-run test on Kubernetes",
                "configuration": configuration,
                "method": method,
                "rollbacks": rollbacks,
                "extensions": [{"name": "chaosgate", "expected_alerts": []}],
            }
        )
    )
    return path


def _orders(v1: client.CoreV1Api) -> tuple[dict[str, str], dict[str, str]]:
    """The orders Service's selector and annotations."""
    service = v1.read_namespaced_service("orders", NS)
    assert service.spec is not None and service.metadata is not None
    return dict(service.spec.selector or {}), dict(service.metadata.annotations or {})


@pytest.mark.timeout(600)
def test_sigkill_then_cleanup_reattaches_the_service_and_removes_the_stress_job(
    k8s_stack: K8sStack, tmp_path: Path
) -> None:
    env = chaosgate_env(k8s_stack.ports, k8s_stack.layout.state_dir)
    env["CHAOSGATE_STATE_DIR"] = str(tmp_path / "state")
    v1 = client.CoreV1Api(k8s_stack.api())
    batch = client.BatchV1Api(k8s_stack.api())
    selector, _ = _orders(v1)
    experiment = _held_faults(tmp_path / "held.json")
    run = subprocess.Popen(
        [sys.executable, "-m", "chaosgate", "run", "--target", "local-k8s", "--profile", "smoke",
         "--duration", "200", "--experiment", str(experiment), "--reports", str(tmp_path / "r")],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def detached() -> bool:
            assert run.poll() is None, f"the run ended early ({run.returncode})"
            return ORIGINAL_SELECTOR_ANNOTATION in _orders(v1)[1]

        wait_until(detached, timeout_s=240, interval_s=1.0, message="the Service detached")
        assert batch.list_namespaced_job(NS, field_selector=STRESS_JOB).items, "no stress Job"
        locusts = [p for p in psutil.Process(run.pid).children(recursive=True)
                   if "locust" in " ".join(p.cmdline())]  # fmt: skip
        run.kill()
        run.wait(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert not psutil.wait_procs(locusts, timeout=10)[1], "Locust outlived its runner"
    assert _orders(v1)[0] != selector  # still detached: nobody undid it yet

    started = time.monotonic()
    cleaned = subprocess.run(
        [sys.executable, "-m", "chaosgate", "cleanup", "--target", "local-k8s"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    _say(f"cleanup on local-k8s: {time.monotonic() - started:.2f} s")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    assert "rollback reattach-orders-service: done" in cleaned.stdout, cleaned.stdout
    assert "rollback delete-cpu-stress-job: done" in cleaned.stdout, cleaned.stdout
    now_selector, annotations = _orders(v1)
    assert now_selector == selector and ORIGINAL_SELECTOR_ANNOTATION not in annotations
    assert not batch.list_namespaced_job(NS, field_selector=STRESS_JOB).items
    assert not v1.list_namespaced_pod(NS, label_selector=STRESS).items
    again = subprocess.run(
        [sys.executable, "-m", "chaosgate", "cleanup", "--target", "local-k8s"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0 and "nothing to undo" in again.stdout, again.stdout
