"""allure-results/: one Allure test result per check, written with allure-python-commons.

Each result carries the check's expected / observed as parameters, its evidence as a JSON
attachment, and labels grouping it by check family (traces, logs, alert, slo, warmup).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from pathlib import Path

from allure_commons.logger import AllureFileLogger
from allure_commons.model2 import (
    Attachment,
    Label,
    Parameter,
    StatusDetails,
    TestResult,
)
from allure_commons.model2 import Status as AllureStatus

from assertions.result import CheckResult, Status

__all__ = ["write_allure_results"]

_STATUS = {
    Status.PASSED: AllureStatus.PASSED,
    Status.FAILED: AllureStatus.FAILED,
    Status.ERROR: AllureStatus.BROKEN,
}


def _short(value: object) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 300 else text[:297] + "..."


def write_allure_results(
    checks: Sequence[CheckResult],
    directory: Path,
    *,
    run_id: str,
    profile: str,
    started_ms: int,
    stopped_ms: int,
) -> None:
    logger = AllureFileLogger(str(directory), clean=True)
    for check in checks:
        group = check.name.split(".", 1)[0]
        attachment_name = f"{uuid.uuid4()}-attachment.json"
        evidence = {
            "expected": check.expected,
            "observed": check.observed,
            "evidence": dict(check.evidence),
            "attempts": check.attempts,
            "latency_s": check.latency_s,
        }
        logger.report_attached_data(
            json.dumps(evidence, indent=2, default=str).encode(), attachment_name
        )
        result = TestResult(
            uuid=str(uuid.uuid4()),
            historyId=hashlib.sha256(f"{profile}:{check.name}".encode()).hexdigest(),
            name=check.name,
            fullName=f"chaosgate.{profile}.{check.name}",
            status=_STATUS[check.status],
            statusDetails=StatusDetails(message=check.reason) if check.reason else None,
            start=started_ms,
            stop=stopped_ms,
            labels=[
                Label(name="parentSuite", value="chaosgate"),
                Label(name="suite", value=profile),
                Label(name="subSuite", value=group),
                Label(name="feature", value=group),
                Label(name="tag", value=run_id),
            ],
            parameters=[
                Parameter(name="expected", value=_short(check.expected)),
                Parameter(name="observed", value=_short(check.observed)),
            ],
            attachments=[
                Attachment(name="evidence", source=attachment_name, type="application/json")
            ],
        )
        logger.report_result(result)
