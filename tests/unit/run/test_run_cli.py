"""`chaosgate run` exit codes without a stack: bad input is 2, an unreachable target is 3."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from chaosgate.cli import main


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
    assert list(tmp_path.iterdir()) == []


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
