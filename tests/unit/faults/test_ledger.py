"""The fault ledger on disk: entries written whole, found per target, unreadable files named."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaosgate.faults.ledger import (
    FaultEntry,
    FaultLedger,
    LedgerError,
    ProcessRef,
    ledger_dir,
    state_dir,
    target_key,
)
from chaosgate.faults.recorder import RunFaults
from chaosgate.faults.target_ledger import target_ledger
from chaosgate.target import local_target


def _entry(entry_id: str = "run-00-x", **changes: object) -> FaultEntry:
    values: dict[str, object] = {
        "id": entry_id,
        "run_id": "run",
        "target": "local",
        "kind": "experiment",
        "title": "experiment x (X)",
        "recorded_at": time.time(),
        "runner": ProcessRef.of(os.getpid()),
        "experiment": {"title": "X", "rollbacks": [{"name": "repair"}]},
    }
    values.update(changes)
    return FaultEntry.model_validate(values)


def test_an_entry_written_is_read_back_whole_and_marking_it_replaces_it(tmp_path: Path) -> None:
    ledger = FaultLedger(tmp_path / "faults")
    entry = ledger.write(_entry())
    assert ledger.read() == ([entry], [])
    assert ledger.pending() == [entry]
    undone = ledger.write(entry.marked("undone", "rolled back"))
    assert ledger.read()[0] == [undone]
    assert ledger.pending() == []
    assert [p.name for p in (tmp_path / "faults").iterdir()] == ["run-00-x.json"]  # no temp


def test_files_that_are_not_entries_are_named_not_trusted(tmp_path: Path) -> None:
    ledger = FaultLedger(tmp_path)
    ledger.write(_entry())
    (tmp_path / "half.json").write_text('{"id": "half", "run_id"')
    (tmp_path / "other.json").write_text('{"id": "other"}')
    (tmp_path / ".run-00-x.json.1.tmp").write_text("{")  # a write that a crash cut short
    entries, unreadable = ledger.read()
    assert [e.id for e in entries] == ["run-00-x"]
    assert sorted(bad.path.name for bad in unreadable) == ["half.json", "other.json"]


def test_an_unwritable_ledger_is_an_error_that_says_how_to_fix_it(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(LedgerError, match="CHAOSGATE_STATE_DIR"):
        FaultLedger(blocker / "faults").write(_entry())


def test_entry_ids_cannot_leave_the_ledger_folder(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="plain file name"):
        FaultLedger(tmp_path).write(_entry("../escape"))


def test_the_folder_follows_the_state_dir_and_the_target_identity(tmp_path: Path) -> None:
    env = {"CHAOSGATE_STATE_DIR": str(tmp_path)}
    assert state_dir(env) == tmp_path.resolve()
    assert state_dir({"XDG_STATE_HOME": str(tmp_path)}) == (tmp_path / "chaosgate").resolve()
    one = target_key("staging", {"gateway_url": "http://a:1"})
    other = target_key("staging", {"gateway_url": "http://b:1"})
    assert one.startswith("staging-") and one != other
    assert target_key("../../x y", {}).startswith("x-y-")
    assert ledger_dir(env, "local", {}).parent == tmp_path.resolve() / "faults"
    local = target_ledger(local_target(), env).directory
    moved = target_ledger(local_target({"gateway": 18080}), env).directory
    assert local != moved and local.name.startswith("local-")


def test_a_process_ref_knows_when_its_process_ended_or_its_pid_was_reused() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        ref = ProcessRef.of(proc.pid)
        assert ref.alive()
        assert not ProcessRef(pid=proc.pid, create_time=ref.create_time - 10).alive()
    finally:
        proc.kill()
        proc.wait()
    assert not ref.alive()


def test_a_run_records_settles_and_forgets_only_what_it_undid(tmp_path: Path) -> None:
    ledger = FaultLedger(tmp_path)
    faults = RunFaults(ledger, run_id="r1", target="local", runner=ProcessRef.of(os.getpid()))
    first = faults.record_experiment(
        0,
        Path("experiments/local/a.json"),
        {"title": "A", "rollbacks": []},
        configuration={"gateway_url": "http://127.0.0.1:8080"},
        environment={"CHAOSGATE_STACK_DIR": "/x"},
    )
    second = faults.record_experiment(
        1, Path("b.json"), {"title": "B"}, configuration={}, environment={}
    )
    assert [e.id for e in ledger.pending()] == ["r1-00-a", "r1-01-b"]
    faults.settle(first, undone=True, detail="rolled back by the experiment")
    faults.settle(second, undone=False, detail="rollback repair: FAILED: boom")
    assert [(e["id"], e["state"]) for e in faults.as_json()] == [
        ("r1-00-a", "undone"),
        ("r1-01-b", "undo-failed"),
    ]
    assert "experiment" not in faults.as_json()[0]
    faults.forget_undone()
    assert [e.id for e in ledger.read()[0]] == ["r1-01-b"]  # left for `chaosgate cleanup`


def test_a_load_that_already_ended_is_not_recorded(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    faults = RunFaults(
        FaultLedger(tmp_path), run_id="r", target="local", runner=ProcessRef.of(os.getpid())
    )
    assert faults.record_load(proc.pid) is None
    assert faults.entries() == []
