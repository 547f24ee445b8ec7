"""`chaosgate run` exit codes without a stack: bad input is 2, an unreachable target is 3."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from chaosgate.cli import main
from chaosgate.run.profiles import KUBERNETES_PROFILES


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_dry_run_prints_the_plan_and_acts_on_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--profile", "gate", "--dry-run", "--reports", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "profile 'gate'" in out
    assert "kill-users-service.json" in out
    assert "1 Locust process(es)" in out
    assert list(tmp_path.iterdir()) == []


def test_a_distributed_dry_run_says_who_sends_the_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--workers", "2", "--expect-workers", "3", "--master-bind", "127.0.0.1:5557"]
    code = main(["run", "--profile", "smoke", "--dry-run", "--reports", str(tmp_path), *options])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "a Locust master with 2 local worker(s) and 3 worker(s) expected at 127.0.0.1:5557" in (
        out
    )


def test_a_bad_experiment_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "no method", "description": "x"}))
    assert main(["validate", "--experiment", str(bad)]) == 2
    assert str(bad) in capsys.readouterr().err


def test_an_unreachable_target_is_exit_3_with_a_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    target = tmp_path / "dead.yaml"
    target.write_text(
        "\n".join(
            [
                f"gateway_url: {dead}",
                f"jaeger: {{query_url: {dead}}}",
                f"elasticsearch: {{url: {dead}}}",
                f"prometheus: {{url: {dead}}}",
                f"alertmanager: {{url: {dead}}}",
                f"sink: {{url: {dead}}}",
            ]
        )
    )
    reports = tmp_path / "reports"
    code = main(["run", "--target", str(target), "--reports", str(reports)])
    assert code == 3
    summary = json.loads(next(reports.glob("*/summary.json")).read_text())
    assert summary["verdict"] == "unhealthy"
    assert "warmup.gateway" in summary["failed_checks"]
    assert all(check["status"] != "passed" for check in summary["checks"])


K8S_EXPERIMENTS = KUBERNETES_PROFILES["nightly"].experiments


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every connection this process tries is refused and recorded (Locust, which lists the
    scenarios, runs in its own process)."""
    attempts: list[object] = []

    def refuse(_sock: socket.socket, address: object) -> None:
        attempts.append(address)
        raise ConnectionRefusedError(f"the test forbids connecting to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def test_dry_run_of_the_k8s_gate_prints_every_fault_and_touches_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_network: list[object],
) -> None:
    # no stack, no kubeconfig: a dry run needs neither
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(tmp_path / "state"))
    reports = tmp_path / "reports"
    code = main(
        [
            "run",
            "--dry-run",
            "--target",
            "local-k8s",
            "--profile",
            "nightly",
            "--reports",
            str(reports),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "profile 'nightly' against target 'local-k8s'" in out
    assert "gateway http://127.0.0.1:30080" in out
    assert f"chaos: kubernetes via {tmp_path / 'state' / 'k8s' / 'admin.kubeconfig'}" in out
    positions = [out.index(f"- {name}") for name in K8S_EXPERIMENTS]
    assert positions == sorted(positions)
    assert (
        "method: terminate-every-users-pod (chaosk8s.pod.actions.terminate_pods) "
        "in namespace restaurant" in out
    )
    assert "rollbacks: cpu-stress-pod-gone-within-60-s" in out
    assert "expects: UsersServiceDown {service=users, severity=critical} within 30 s" in out
    assert "expects: NodeHighMemory {component=node, severity=warning} within 75 s" in out
    assert "expects: no alert; the steady-state SLO holds during the fault" in out
    assert no_network == []
    assert not reports.exists() and not (tmp_path / "state").exists()


def test_an_experiment_outside_the_allowlist_is_exit_2_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], no_network: list[object]
) -> None:
    monkeypatch.setenv("CHAOSGATE_KUBERNETES__NAMESPACES", "payments")
    code = main(["run", "--target", "local-k8s", "--profile", "smoke"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "kill-users-pods.json: activity 'users-fully-available'" in err
    assert "acts on namespace 'restaurant'" in err
    assert "(environment variable CHAOSGATE_KUBERNETES__NAMESPACES)" in err
    assert no_network == []


def test_a_target_file_keeps_chaos_to_its_namespaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "prod.yaml"
    target.write_text("gateway_url: http://gw:8080\nkubernetes: {namespaces: [shop]}\n")
    assert main(["validate", "--target", str(target), "--profile", "gate"]) == 2
    err = capsys.readouterr().err
    assert "which target 'prod' does not allow" in err
    assert f"kubernetes.namespaces is ['shop'] (target file {str(target)!r})" in err
    assert "CHAOSGATE_KUBERNETES__NAMESPACES=shop,restaurant" in err


def test_kubernetes_experiments_need_a_kubernetes_target(
    capsys: pytest.CaptureFixture[str],
) -> None:
    experiment = (
        Path(__file__).resolve().parents[3] / "experiments" / "k8s" / "kill-users-pods.json"
    )
    assert main(["validate", "--experiment", str(experiment)]) == 2
    assert "target 'local' takes local chaos only" in capsys.readouterr().err
    assert main(["validate", "--target", "local-k8s", "--experiment", "kill-orders-pod"]) == 0
    assert "experiment kill-orders-pod.json: ok" in capsys.readouterr().out
