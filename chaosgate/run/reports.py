"""A run's reports: junit.xml, allure-results/, summary.json and faults.json (the run's fault
ledger entries), from the same checks; then report.html, drawn from the folder they are in.

report.html comes last and may fail alone: a page that cannot be drawn must cost neither the
other reports nor the verdict. Its failure is a printed warning, and summary.json's artifacts
name report.html only once it is written."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from assertions.result import CheckResult
from chaosgate.chaos.timeline import Timeline
from chaosgate.report.allure import write_allure_results
from chaosgate.report.html_report import REPORT_FILE, write_html_report
from chaosgate.report.junit import write_junit
from chaosgate.report.summary import RunSummary, write_summary
from chaosgate.run.run_plan import RunPlan

__all__ = ["write_reports"]


def _warn_on_stderr(message: str) -> None:
    print(f"chaosgate: warning: {message}", file=sys.stderr, flush=True)


def write_reports(
    plan: RunPlan,
    checks: Sequence[CheckResult],
    timeline: Timeline,
    started: float,
    exit_code: int,
    verdict: str,
    load: dict[str, Any],
    *,
    faults: Sequence[dict[str, Any]] = (),
    replay: Mapping[str, Any] | None = None,
    warn: Callable[[str], None] = _warn_on_stderr,
) -> Path:
    """Write every report into ``plan.run_dir``; the path of summary.json. ``warn`` hears
    that report.html could not be written (why, on one line)."""
    finished = time.time()
    allure_dir = plan.run_dir / "allure-results"
    write_junit(
        checks, plan.run_dir / "junit.xml", suite=plan.profile.name, duration_s=finished - started
    )
    write_allure_results(
        checks,
        allure_dir,
        run_id=plan.run_id,
        profile=plan.profile.name,
        started_ms=int(started * 1000),
        stopped_ms=int(finished * 1000),
    )
    settings = {
        "profile": asdict(plan.profile),
        "target": plan.target.redacted_dict(),
        "experiments": [str(p) for p in plan.experiments],
        "seed": plan.profile.seed,
        "command": list(plan.command),
    }
    summary = RunSummary(
        run_id=plan.run_id,
        verdict=verdict,
        exit_code=exit_code,
        started_at=started,
        finished_at=finished,
        settings=settings,
        timeline=[
            *timeline.as_json(),
            *({"fault_window": w.as_json()} for w in timeline.experiment_spans()),
        ],
        checks=checks,
        load=load,
        faults=faults,
        replay=replay,
        artifacts={
            "fault_ledger": "faults.json",
            "junit": "junit.xml",
            "allure_results": "allure-results/",
            "ledger": "ledger/",
            "chaos_journals": "chaos/",
            "locust_stats": "locust/locust_stats.csv",
            "experiments": "experiments/",
        },
    )
    (plan.run_dir / "faults.json").write_text(json.dumps(list(faults), indent=2))
    path = plan.run_dir / "summary.json"
    write_summary(summary, path)
    try:
        write_html_report(plan.run_dir)
    except Exception as exc:  # any failure to draw: the other reports and the verdict stand
        why = " ".join(f"{type(exc).__name__}: {exc}".split())
        warn(f"{REPORT_FILE} was not written: {why}")
    else:
        artifacts = {"html_report": REPORT_FILE, **summary.artifacts}
        write_summary(replace(summary, artifacts=artifacts), path)
    return path
