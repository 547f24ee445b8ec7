"""The run's reports: report.html after summary.json, and a page that cannot be written costs
neither the other reports nor the summary (a warning, and no report.html in its artifacts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosgate.chaos.timeline import Timeline, TimelineEvent
from chaosgate.run.profiles import PROFILES
from chaosgate.run.reports import write_reports
from chaosgate.run.run_plan import RunPlan
from chaosgate.target import local_target
from tests.unit.report.run_fixture import START, checks, ledger_entries, timeline


def _plan(run_dir: Path) -> RunPlan:
    run_dir.mkdir(parents=True)
    (run_dir / "ledger").mkdir()
    lines = "".join(entry.to_json() + "\n" for entry in ledger_entries())
    (run_dir / "ledger" / "ledger-host-1.jsonl").write_text(lines)
    return RunPlan("r1", run_dir, local_target(), PROFILES["smoke"], ())


def _timeline() -> Timeline:
    events = Timeline()
    for record in timeline():
        if "fault_window" not in record:
            events.add(TimelineEvent(**record))
    return events


def test_report_html_is_written_and_named_in_the_summary(tmp_path: Path) -> None:
    plan = _plan(tmp_path / "r1")
    warnings: list[str] = []
    path = write_reports(
        plan, checks(), _timeline(), START, 1, "failed", {"requests": 540}, warn=warnings.append
    )
    summary = json.loads(path.read_text())
    assert summary["artifacts"]["html_report"] == "report.html"
    assert summary["artifacts"]["junit"] == "junit.xml"  # the others kept
    page = (plan.run_dir / "report.html").read_text()
    assert "<h1>FAILED &middot; r1</h1>" in page
    assert "kill-users-service" in page  # the fault window from the timeline
    assert warnings == []


def test_a_page_that_cannot_be_written_is_a_warning_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = _plan(tmp_path / "r1")
    (plan.run_dir / "report.html").mkdir()  # the page cannot take its place
    (plan.run_dir / "report.html" / "keep").write_text("")
    path = write_reports(plan, checks(), _timeline(), START, 1, "failed", {})
    summary = json.loads(path.read_text())
    assert "html_report" not in summary["artifacts"]
    assert summary["verdict"] == "failed" and summary["exit_code"] == 1
    assert len(summary["checks"]) == len(checks())
    assert (plan.run_dir / "junit.xml").is_file()
    assert list((plan.run_dir / "allure-results").glob("*-result.json"))
    assert (plan.run_dir / "faults.json").is_file()
    warning = capsys.readouterr().err  # the default: one line on stderr
    assert warning.startswith("chaosgate: warning: report.html was not written: ")
    assert "Error" in warning and warning.count("\n") == 1
    assert not (plan.run_dir / ".report.html.partial").exists()
