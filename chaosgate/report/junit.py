"""JUnit XML: one testcase per check, so any CI shows the verdict check by check."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from xml.etree import ElementTree as ET

from assertions.result import CheckResult, Status

__all__ = ["write_junit"]


def _group(name: str) -> str:
    return name.split(".", 1)[0]


def write_junit(
    checks: Sequence[CheckResult], path: Path, *, suite: str, duration_s: float
) -> None:
    failures = sum(1 for c in checks if c.status is Status.FAILED)
    errors = sum(1 for c in checks if c.status is Status.ERROR)
    root = ET.Element("testsuites", name="chaosgate")
    suite_el = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(checks)),
        failures=str(failures),
        errors=str(errors),
        time=f"{duration_s:.3f}",
    )
    for check in checks:
        case = ET.SubElement(
            suite_el,
            "testcase",
            classname=f"chaosgate.{_group(check.name)}",
            name=check.name,
            time=f"{check.latency_s or 0.0:.3f}",
        )
        details = json.dumps(
            {
                "expected": check.expected,
                "observed": check.observed,
                "evidence": dict(check.evidence),
            },
            indent=2,
            default=str,
        )
        if check.status is Status.FAILED:
            ET.SubElement(case, "failure", message=check.reason or "failed").text = details
        elif check.status is Status.ERROR:
            ET.SubElement(case, "error", message=check.reason or "error").text = details
        ET.SubElement(case, "system-out").text = details
    ET.indent(root)
    path.write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
