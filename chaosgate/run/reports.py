"""A run's reports: junit.xml, allure-results/, summary.json and faults.json (the run's fault
ledger entries), from the same checks."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from assertions.result import CheckResult
from chaosgate.chaos.timeline import Timeline
from chaosgate.report.allure import write_allure_results
from chaosgate.report.junit import write_junit
from chaosgate.report.summary import RunSummary, write_summary
from chaosgate.run.run_plan import RunPlan

__all__ = ["write_reports"]


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
) -> Path:
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
            *({"fault_window": w.as_json()} for w in timeline.fault_windows()),
        ],
        checks=checks,
        load=load,
        faults=faults,
        artifacts={
            "fault_ledger": "faults.json",
            "junit": "junit.xml",
            "allure_results": "allure-results/",
            "ledger": "ledger/",
            "chaos_journals": "chaos/",
            "locust_stats": "locust/locust_stats.csv",
        },
    )
    (plan.run_dir / "faults.json").write_text(json.dumps(list(faults), indent=2))
    path = plan.run_dir / "summary.json"
    write_summary(summary, path)
    return path
