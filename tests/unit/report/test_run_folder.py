"""A run folder read back, and every way it can be no run folder (one line saying why)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosgate.report.run_folder import RunFolderError, read_run_folder
from tests.unit.report.run_fixture import RUN_ID, checks, read_summary, write_run_folder


def test_a_run_folder_reads_back_its_checks_and_ledger(tmp_path: Path) -> None:
    folder = read_run_folder(write_run_folder(tmp_path))
    assert (folder.run_id, folder.verdict, folder.profile_name) == (RUN_ID, "failed", "smoke")
    assert folder.checks == tuple(checks())
    assert len(folder.ledger) == 90 * 6 and folder.ledger_problem == ""
    assert folder.settings["seed"] == 7
    assert read_run_folder(folder.path, with_ledger=False).ledger == ()


def test_optional_fields_may_be_missing_and_unknown_ones_are_kept(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path, ledger=[])
    summary = read_summary(run_dir)
    for key in ("settings", "timeline", "load", "faults", "artifacts"):
        del summary[key]
    summary["replay"] = {"seed": 7}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    folder = read_run_folder(run_dir)
    assert (folder.settings, folder.timeline, folder.profile_name) == ({}, (), "run")
    assert folder.summary["replay"] == {"seed": 7} and folder.ledger == ()


def _with(tmp_path: Path, text: str) -> Path:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(text)
    return run_dir


def _summary(**change: object) -> str:
    base = {"run_id": "r", "verdict": "passed", "started_at": 1.0, "finished_at": 2.0, "checks": []}
    return json.dumps({**base, **change})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "summary.json is not JSON: "),
        ("[]", "summary.json must hold a JSON object, not list"),
        ('{"run_id": "r"}', "lacks 'verdict', 'started_at', 'finished_at', 'checks'"),
        (_summary(verdict=""), "'verdict' must be a non-empty string"),
        (_summary(started_at="yesterday"), "'started_at' must be a unix time in seconds"),
        (_summary(finished_at=True), "'finished_at' must be a unix time in seconds"),
        (_summary(checks={}), "'checks' must be a list"),
        (_summary(timeline="x"), "'timeline' must be a list"),
        (_summary(settings=[]), "'settings' must be an object"),
        (_summary(checks=[{"name": "a", "status": "ok"}]), "checks[0]: check 'a': 'status'"),
    ],
)
def test_a_summary_that_is_no_summary_is_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RunFolderError) as raised:
        read_run_folder(_with(tmp_path, text))
    assert message in str(raised.value)
    assert str(tmp_path / "run" / "summary.json") in str(raised.value)


def test_no_folder_and_no_summary_are_named(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="does not exist: give the folder of one run"):
        read_run_folder(tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFolderError, match="is not a folder"):
        read_run_folder(tmp_path / "file")
    with pytest.raises(RunFolderError, match=r"summary.json does not exist"):
        read_run_folder(tmp_path)
    (tmp_path / "summary.json").mkdir()
    with pytest.raises(RunFolderError, match="cannot be read: is a directory"):
        read_run_folder(tmp_path)
