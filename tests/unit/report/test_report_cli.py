"""`chaosgate report RUN_DIR` through the real CLI: the reports written again from
summary.json, and bad input as one `chaosgate: error:` line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from chaosgate.cli import main
from tests.unit.report.run_fixture import checks, write_run_folder


def test_report_writes_the_page_junit_and_allure_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = write_run_folder(tmp_path)
    summary_before = (run_dir / "summary.json").read_text()
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"wrote {run_dir / 'junit.xml'}",
        f"wrote {run_dir / 'allure-results'}",
        f"wrote {run_dir / 'report.html'}",
    ]
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == (
        "smoke",
        str(len(checks())),
        "4",
    )
    assert float(suite.get("time") or 0) == pytest.approx(95.0)
    results = [
        json.loads(p.read_text()) for p in (run_dir / "allure-results").glob("*-result.json")
    ]
    assert sorted(r["name"] for r in results) == sorted(c.name for c in checks())
    assert "alerts.noise" in (run_dir / "report.html").read_text()
    assert (run_dir / "summary.json").read_text() == summary_before  # the input, untouched
    # again: the same files, allure-results/ cleaned first
    assert main(["report", str(run_dir)]) == 0
    assert len(list((run_dir / "allure-results").glob("*-result.json"))) == len(checks())


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        (None, "{run} does not exist: give the folder of one run"),
        ("", "{run}/summary.json does not exist"),
        ("{,", "{run}/summary.json is not JSON: "),
        ("{}", "{run}/summary.json lacks 'run_id', 'verdict'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], summary: str | None, message: str
) -> None:
    """``summary``: None, no folder; "", a folder without summary.json; else its text."""
    run_dir = tmp_path / "run"
    if summary is not None:
        run_dir.mkdir()
        if summary:
            (run_dir / "summary.json").write_text(summary)
    assert main(["report", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chaosgate: error: ")
    assert message.format(run=run_dir) in err
    assert not (run_dir / "report.html").exists()


def test_report_without_a_folder_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "chaosgate: error: chaosgate report: missing argument 'RUN_DIR'; "
        "see 'chaosgate report --help'\n"
    )
