"""`chaosgate cleanup`, `run` refusing while faults are recorded, and `stack status` showing
them, through the real CLI with the ledger in a temporary state dir."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosgate.cli import main
from chaosgate.faults.ledger import FaultEntry, ProcessRef
from chaosgate.faults.target_ledger import target_ledger
from chaosgate.target import local_target
from tests.unit.chaos import fake_activities
from tests.unit.chaos.support import activity, experiment


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("CHAOSGATE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(tmp_path / "stack"))
    fake_activities.reset()
    yield tmp_path / "state"
    fake_activities.reset()


def _left_behind(doc: dict[str, object]) -> FaultEntry:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    runner = ProcessRef.of(proc.pid)
    proc.wait()  # the runner was SIGKILLed
    entry = FaultEntry(
        id="20261201-000000-smoke-abcd-00-break",
        run_id="20261201-000000-smoke-abcd",
        target="local",
        kind="experiment",
        title="experiment break (break and repair)",
        recorded_at=time.time(),
        runner=runner,
        experiment=doc,
    )
    return target_ledger(local_target(), os.environ).write(entry)


def test_cleanup_undoes_what_a_killed_run_left_and_then_finds_nothing(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_activities.SYSTEM["broken"] = True
    _left_behind(experiment())
    assert main(["cleanup", "--dry-run"]) == 0
    assert "would undo: experiment break" in capsys.readouterr().out
    assert fake_activities.SYSTEM["broken"] is True
    assert main(["cleanup"]) == 0
    out = capsys.readouterr().out
    assert "rollback repair: done" in out and "undone: experiment break" in out
    assert fake_activities.SYSTEM["broken"] is False
    assert main(["cleanup"]) == 0
    assert "nothing to undo for target 'local'" in capsys.readouterr().out


def test_cleanup_exits_1_naming_what_it_could_not_undo(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _left_behind(experiment(rollbacks=[activity("action", "repair", "fail", reason="no API")]))
    assert main(["cleanup"]) == 1
    captured = capsys.readouterr()
    assert "rollback repair: FAILED: no API" in captured.out
    assert captured.err.strip().splitlines() == [
        "chaosgate: error: not undone: experiment break (break and repair)"
    ]


def test_run_refuses_to_start_while_the_target_has_faults_not_undone(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _left_behind(experiment())
    assert main(["run", "--dry-run", "--experiment", "gateway-error-ratio"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("chaosgate: error: target 'local' has faults recorded and not undone")
    assert "`chaosgate cleanup`" in line and "experiment break" in line
    assert main(["cleanup"]) == 0
    capsys.readouterr()
    assert main(["run", "--dry-run", "--experiment", "gateway-error-ratio"]) == 0
