"""A team's own checks (``--checks DIR``) collected and run by real pytest subprocesses against a
run folder; each test one CheckResult."""

from __future__ import annotations

from pathlib import Path

import pytest

from assertions.result import Status
from chaosgate.run.team_checks import TeamChecksError, collect_team_checks, run_team_checks
from chaosgate.target import local_target
from tests.unit.report.run_fixture import write_run_folder

pytestmark = pytest.mark.processes

CHECKS = """
import time

def test_the_seed(chaosgate_run):
    assert chaosgate_run.seed == 7

def test_a_broken_promise(chaosgate_ledger):
    assert not chaosgate_ledger, f"{len(chaosgate_ledger)} requests"

def test_a_check_that_cannot_observe():
    raise RuntimeError("backend gone")

def test_one_that_hangs():
    time.sleep(30)
"""


def _folder(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "checks"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_each_test_is_a_check_of_the_run_and_one_that_hangs_is_stopped(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path / "reports")
    folder = _folder(tmp_path, **{"test_team.py": CHECKS})
    expected = collect_team_checks(folder)
    assert expected == [f"test_team.py::{name}" for name in (
        "test_the_seed", "test_a_broken_promise", "test_a_check_that_cannot_observe",
        "test_one_that_hangs")]  # fmt: skip
    results = run_team_checks(
        folder, run_dir, target=local_target(), timeout_s=2, expected_count=len(expected)
    )
    by_name = {result.name: result for result in results}
    assert by_name["checks.test_team.py::test_the_seed"].status is Status.PASSED
    broken = by_name["checks.test_team.py::test_a_broken_promise"]
    assert broken.status is Status.FAILED and "requests" in broken.reason
    assert by_name["checks.test_team.py::test_a_check_that_cannot_observe"].status is Status.FAILED
    hung = by_name["checks.test_team.py::test_one_that_hangs"]
    assert hung.status is Status.FAILED and "Timeout" in hung.reason
    assert (run_dir / "checks-target" / "local.yaml").is_file()


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"test_bad.py": "def test_x(:\n"}, r"test_bad.py cannot be collected: .*SyntaxError"),
        ({"test_imports.py": "import no_such_module\n"}, r"test_imports.py cannot be collected"),
        ({"helpers.py": "X = 1\n"}, "no test found"),
    ],
)
def test_checks_that_cannot_be_collected_are_bad_input(
    tmp_path: Path, files: dict[str, str], message: str
) -> None:
    with pytest.raises(TeamChecksError, match=message):
        collect_team_checks(_folder(tmp_path, **files))


def test_a_missing_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(TeamChecksError, match="no such folder"):
        collect_team_checks(tmp_path / "nowhere")
