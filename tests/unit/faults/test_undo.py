"""Undoing the ledger: rollbacks played again through chaoslib, load processes stopped, live
runners' faults left alone, failures kept for the next attempt."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import psutil
import pytest

from chaosgate.faults.ledger import FaultEntry, FaultLedger, ProcessRef
from chaosgate.faults.undo import cleanup
from tests.support.waiting import wait_until
from tests.unit.chaos import fake_activities
from tests.unit.chaos.support import activity, experiment


@pytest.fixture(autouse=True)
def _fresh_system() -> Iterator[None]:
    fake_activities.reset()
    yield
    fake_activities.reset()


def _gone_runner() -> ProcessRef:
    """A runner that has exited (SIGKILLed, say)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    ref = ProcessRef.of(proc.pid)
    proc.wait()
    return ref


def _entry(doc: dict[str, Any], *, runner: ProcessRef, **changes: Any) -> FaultEntry:
    values: dict[str, Any] = {
        "id": "r-00-x",
        "run_id": "r",
        "target": "local",
        "kind": "experiment",
        "title": "experiment x (break and repair)",
        "recorded_at": time.time(),
        "runner": runner,
        "experiment": doc,
        **changes,
    }
    return FaultEntry.model_validate(values)


def _none() -> nullcontext[None]:
    return nullcontext()


def test_a_dead_runners_fault_is_undone_by_its_rollbacks_and_leaves_the_ledger(
    tmp_path: Path,
) -> None:
    fake_activities.SYSTEM["broken"] = True
    ledger = FaultLedger(tmp_path)
    ledger.write(_entry(experiment(), runner=_gone_runner()))
    lines: list[str] = []
    outcome = cleanup(ledger, chaos_environment=_none, report=lines.append)
    assert fake_activities.SYSTEM == {"broken": False, "calls": ["repair"]}
    assert outcome.clean and len(outcome.undone) == 1
    assert ledger.read() == ([], [])
    assert any("rollback repair: done" in line for line in lines)
    again = cleanup(ledger, chaos_environment=_none, report=lines.append)  # idempotent
    assert again.clean and not again.undone


def test_dry_run_says_what_it_would_undo_and_touches_nothing(tmp_path: Path) -> None:
    fake_activities.SYSTEM["broken"] = True
    ledger = FaultLedger(tmp_path)
    ledger.write(_entry(experiment(), runner=_gone_runner()))
    lines: list[str] = []
    outcome = cleanup(ledger, chaos_environment=_none, dry_run=True, report=lines.append)
    assert fake_activities.SYSTEM["broken"] is True
    assert [e.id for e in outcome.planned] == ["r-00-x"] and len(ledger.pending()) == 1
    assert lines == ["would undo: experiment x (break and repair) (run r): play rollback repair"]


def test_a_rollback_that_fails_keeps_the_entry_with_the_reason(tmp_path: Path) -> None:
    ledger = FaultLedger(tmp_path)
    doc = experiment(rollbacks=[activity("action", "repair", "fail", reason="the API is gone")])
    ledger.write(_entry(doc, runner=_gone_runner()))
    outcome = cleanup(ledger, chaos_environment=_none, report=lambda _line: None)
    assert not outcome.clean and len(outcome.failed) == 1
    (kept,) = ledger.pending()
    assert kept.state == "undo-failed" and "the API is gone" in kept.detail


def test_the_faults_of_a_runner_that_still_runs_are_left_to_it(tmp_path: Path) -> None:
    fake_activities.SYSTEM["broken"] = True
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ledger = FaultLedger(tmp_path)
        ledger.write(_entry(experiment(), runner=ProcessRef.of(proc.pid)))
        lines: list[str] = []
        outcome = cleanup(ledger, chaos_environment=_none, report=lines.append)
    finally:
        proc.kill()
        proc.wait()
    assert [e.id for e in outcome.live] == ["r-00-x"] and not outcome.clean
    assert fake_activities.SYSTEM["broken"] is True
    assert "still runs" in lines[0]


def test_rollbacks_run_with_the_recorded_configuration_environment_and_chaos_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHAOSGATE_UNDO_PROBE", raising=False)
    doc = experiment(rollbacks=[activity("action", "remember", "remember", value="${where}")])
    doc["configuration"] = {"where": "declared"}
    ledger = FaultLedger(tmp_path)
    ledger.write(
        _entry(
            doc,
            runner=_gone_runner(),
            configuration={"where": "given"},
            environment={"CHAOSGATE_UNDO_PROBE": "set"},
        )
    )
    seen: list[str | None] = []

    @contextmanager
    def cluster() -> Iterator[None]:
        seen.append(os.environ.get("CHAOSGATE_UNDO_PROBE"))
        yield

    cleanup(ledger, chaos_environment=cluster, report=lambda _line: None)
    assert fake_activities.SYSTEM["calls"] == ["remember:given"]
    assert seen == ["set"] and "CHAOSGATE_UNDO_PROBE" not in os.environ


def test_a_load_left_behind_is_stopped_with_its_children(tmp_path: Path) -> None:
    code = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        (child,) = wait_until(
            psutil.Process(proc.pid).children, timeout_s=10, message="the load's child process"
        )
        ledger = FaultLedger(tmp_path)
        ledger.write(
            _entry(
                {},
                runner=_gone_runner(),
                id="r-load",
                kind="load",
                title="load (Locust)",
                process=ProcessRef.of(proc.pid),
            )
        )
        outcome = cleanup(ledger, chaos_environment=_none, report=lambda _line: None)
        assert outcome.clean and len(outcome.undone) == 1
        assert proc.wait(timeout=5) is not None
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
