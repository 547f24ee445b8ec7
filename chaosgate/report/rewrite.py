"""``chaosgate report RUN_DIR``: a run folder's reports written again from its summary.json.

junit.xml, allure-results/ and report.html are all drawn from summary.json's checks (and the
ledger, for the page), so they can be rewritten for a run that has already ended: to get
report.html for a folder written before the page existed, or after a change to the reports.
summary.json itself, the ledger and the journals are left as they are. Bad input (no such
folder, no summary.json, one that is not JSON or lacks a field) is a
:class:`~chaosgate.report.run_folder.RunFolderError`.
"""

from __future__ import annotations

from pathlib import Path

from chaosgate.report.allure import write_allure_results
from chaosgate.report.html_report import write_html
from chaosgate.report.junit import write_junit
from chaosgate.report.run_folder import read_run_folder

__all__ = ["rewrite_reports"]


def rewrite_reports(run_dir: Path) -> list[Path]:
    """Write ``run_dir``'s junit.xml, allure-results/ and report.html; their paths."""
    folder = read_run_folder(run_dir)
    junit = run_dir / "junit.xml"
    allure = run_dir / "allure-results"
    write_junit(
        folder.checks,
        junit,
        suite=folder.profile_name,
        duration_s=max(folder.finished_at - folder.started_at, 0.0),
    )
    write_allure_results(
        folder.checks,
        allure,
        run_id=folder.run_id,
        profile=folder.profile_name,
        started_ms=int(folder.started_at * 1000),
        stopped_ms=int(folder.finished_at * 1000),
    )
    return [junit, allure, write_html(folder)]
