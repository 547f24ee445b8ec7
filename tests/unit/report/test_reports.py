"""Reports written from CheckResults: JUnit parses, Allure's own generator accepts the results."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from assertions.result import CheckResult, Status
from chaosgate.report.allure import write_allure_results
from chaosgate.report.junit import write_junit
from chaosgate.report.summary import RunSummary, write_summary

CHECKS = [
    CheckResult("traces.completeness", Status.PASSED, 1.0, 1.0, latency_s=1.2, attempts=3),
    CheckResult(
        "alert.UsersServiceDown.fired",
        Status.FAILED,
        {"deadline_s": 30},
        {"seen": False},
        reason="UsersServiceDown not seen within 30 s",
        evidence={"polls": 60},
    ),
    CheckResult("logs.completeness", Status.ERROR, 1.0, None, reason="elasticsearch: refused"),
]

ALLURE = Path(os.environ.get("CHAOSGATE_CACHE", Path.home() / ".cache" / "chaosgate")) / (
    "npm/node_modules/.bin/allure"
)


def test_junit_has_a_case_per_check_with_failures_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(CHECKS, path, suite="smoke", duration_s=12.5)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    failed = cases["alert.UsersServiceDown.fired"].find("failure")
    assert failed is not None and failed.get("message") == "UsersServiceDown not seen within 30 s"
    assert cases["logs.completeness"].find("error") is not None
    assert cases["traces.completeness"].find("failure") is None


def test_summary_lists_failed_checks_and_counts(tmp_path: Path) -> None:
    summary = RunSummary(
        run_id="r1",
        verdict="failed",
        exit_code=1,
        started_at=100.0,
        finished_at=160.0,
        settings={"seed": 7},
        timeline=[{"kind": "inject", "t": 120.0}],
        checks=CHECKS,
        load={"requests": 10},
        artifacts={"junit": "junit.xml"},
    )
    write_summary(summary, tmp_path / "summary.json")
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["counts"] == {"passed": 1, "failed": 1, "error": 1}
    assert data["failed_checks"] == ["alert.UsersServiceDown.fired", "logs.completeness"]
    assert data["checks"][1]["expected"] == {"deadline_s": 30}
    assert data["settings"]["seed"] == 7
    assert data["duration_s"] == 60.0


@pytest.mark.tools
def test_allure_generate_accepts_the_results(tmp_path: Path) -> None:
    results = tmp_path / "allure-results"
    write_allure_results(
        CHECKS, results, run_id="r1", profile="smoke", started_ms=1_000, stopped_ms=2_000
    )
    assert len(list(results.glob("*-result.json"))) == 3
    if not ALLURE.exists():
        pytest.fail(f"Allure generator missing at {ALLURE}; run scripts/bootstrap")
    if shutil.which("java") is None:
        pytest.fail("java is missing; run scripts/bootstrap")
    report = tmp_path / "report"
    proc = subprocess.run(
        [str(ALLURE), "generate", str(results), "-o", str(report), "--clean"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((report / "widgets" / "summary.json").read_text())
    assert summary["statistic"]["total"] == 3
    assert summary["statistic"]["failed"] == 1
    assert summary["statistic"]["broken"] == 1
    assert summary["statistic"]["passed"] == 1
