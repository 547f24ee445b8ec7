"""Whole runs against the Kubernetes stack: `chaosgate run --target local-k8s`, as a user types
it, with load, chaosk8s faults through the real API and every check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaosgate.run.profiles import EXPERIMENT_DIRS
from tests.integration.k8s.conftest import K8sStack
from tests.integration.support import chaosgate_env
from tests.integration.test_alerting_runs import _assert_proved, _checks

pytestmark = [pytest.mark.integration, pytest.mark.k8s]


def _run(stack: K8sStack, reports: Path, *args: str) -> tuple[int, str, dict[str, Any] | None]:
    env = chaosgate_env(stack.ports, stack.layout.state_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "chaosgate", "run", "--target", "local-k8s", "--reports",
         str(reports), *args],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )  # fmt: skip
    summaries = sorted(reports.glob("*/summary.json"))
    summary = json.loads(summaries[-1].read_text()) if summaries else None
    print(proc.stdout[-4000:])
    return proc.returncode, proc.stdout + proc.stderr, summary


def test_smoke_run_on_kubernetes_passes_on_a_healthy_stack(
    k8s_stack: K8sStack, tmp_path: Path
) -> None:
    code, output, summary = _run(k8s_stack, tmp_path, "--profile", "smoke", "--duration", "55")
    assert summary is not None, output[-3000:]
    assert (code, summary["verdict"]) == (0, "passed"), summary["failed_checks"]
    names = {check["name"] for check in summary["checks"]}
    assert "chaos.kill-users-pods" in names
    fired = [c for c in summary["checks"] if c["name"].startswith("alert.UsersServiceDown")]
    prefix = "alert.UsersServiceDown{service=users,severity=critical}."
    assert {c["name"].removeprefix(prefix) for c in fired} == {
        "fired",
        "notified.webhook",
        "notified.slack",
        "notified.email",
        "resolved",
    }  # a critical alert reaches on-call through all three receivers
    assert all(c["status"] == "passed" for c in fired)
    journal = json.loads(
        next((tmp_path / summary["run_id"] / "chaos").glob("*.journal.json")).read_text()
    )
    (kill,) = [r for r in journal["run"] if r["activity"]["type"] == "action"]
    assert kill["activity"]["provider"]["module"] == "chaosk8s.pod.actions"
    assert kill["status"] == "succeeded"


def test_an_experiment_outside_the_allowlist_is_refused_before_anything_runs(
    k8s_stack: K8sStack, tmp_path: Path
) -> None:
    experiment = json.loads(
        (
            Path(__file__).resolve().parents[3] / "experiments" / "k8s" / "kill-users-pods.json"
        ).read_text()
    )
    text = json.dumps(experiment).replace('"ns": "restaurant"', '"ns": "kube-system"')
    path = tmp_path / "kill-in-kube-system.json"
    path.write_text(text)
    code, output, summary = _run(k8s_stack, tmp_path / "reports", "--experiment", str(path))
    assert code == 2, output
    assert summary is None
    assert "'kube-system'" in output and "kubernetes.namespaces" in output


K8S_ALERT_FAULTS = (
    "kill-iot-pods",
    "exhaust-orders-db-pool",
    "silence-iot-devices",
    "drop-users-connections",
)


@pytest.mark.timeout(1200)
def test_kubernetes_faults_fire_their_alerts_and_reach_every_routed_receiver(
    k8s_stack: K8sStack, tmp_path: Path
) -> None:
    """A pod's service down, pod fault switches, silent devices and a container crash loop in
    place, through the real API; each alert fired in time and reached its route's receivers."""
    k8s_dir = EXPERIMENT_DIRS["kubernetes"]
    crash = json.loads((k8s_dir / "crash-loop-users-container.json").read_text())
    for extension in crash["extensions"]:
        if extension["name"] == "chaosgate":
            extension["resolve_deadline_s"] = 5  # PodRestartingOften's 5 minutes: the nightly's
    crash_path = tmp_path / "crash-loop-users-container.json"
    crash_path.write_text(json.dumps(crash))
    args = [arg for name in K8S_ALERT_FAULTS for arg in ("--experiment", name)]
    _code, output, summary = _run(
        k8s_stack,
        tmp_path / "reports",
        "--profile", "smoke", "--duration", "330", *args, "--experiment", str(crash_path),
    )  # fmt: skip
    assert summary is not None, output[-3000:]
    checks = _checks(summary)
    _assert_proved(checks, [k8s_dir / f"{name}.json" for name in K8S_ALERT_FAULTS])
    _assert_proved(checks, [crash_path], resolved=False)
    assert checks["alerts.inhibition"]["status"] == "passed", checks["alerts.inhibition"]
