"""The alert rules of the local stack (refstack/prometheus/rules.yml), checked by promtool.

``promtool check rules`` validates the file, ``promtool test rules`` runs the unit tests in
rules.test.yml (synthetic series at 1 s resolution, evaluation every 1 s), and the tests
below make sure every alert of the platform's design exists and is covered by those tests.
promtool comes from the Debian ``prometheus`` package that scripts/bootstrap installs; without
it these tests fail (they never skip).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
RULES = REPO_ROOT / "refstack" / "prometheus" / "rules.yml"
RULES_TEST = REPO_ROOT / "refstack" / "prometheus" / "rules.test.yml"

# The platform's alert rules by group (README "Alert rules"): group -> its alerts.
DESIGN_ALERTS: dict[str, tuple[str, ...]] = {
    "gateway": ("GatewayHighErrorRate", "GatewayHighLatency"),
    "users": ("UsersServiceDown", "UsersServiceHighErrorRate"),
    "iot": ("IoTServiceDown", "IoTServiceHighErrorRate", "IoTDeviceOffline"),
    "database": ("DatabasePoolExhausted", "DatabaseTooManyConnections"),
    "nodes": ("NodeHighCPU", "NodeHighMemory", "NodeDiskAlmostFull"),
    "pods": ("PodCrashLooping", "PodRestartingOften"),
    "network": ("NetworkHighErrorRate",),
    "business": ("OrderFailuresHigh",),
}
SEVERITIES = {"critical", "warning"}
MAX_FOR_S = 10.0
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found on PATH; run scripts/bootstrap "
            "(it installs the Debian 'prometheus' package, which ships promtool)"
        )
    return path


def _run_promtool(*args: str) -> None:
    command = [_promtool(), *args]
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )


def _load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path}: expected a YAML mapping at the top"
    return document


def _duration_s(text: str) -> float:
    """A Prometheus duration such as "5s", "1m30s" or "500ms", in seconds."""
    parts = _DURATION.findall(text)
    assert parts and "".join(n + u for n, u in parts) == text, f"bad duration {text!r}"
    return sum(float(number) * _UNIT_S[unit] for number, unit in parts)


def _alerts_by_group() -> dict[str, dict[str, dict[str, Any]]]:
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for group in _load(RULES)["groups"]:
        groups[group["name"]] = {
            rule["alert"]: rule for rule in group.get("rules", []) if "alert" in rule
        }
    return groups


def _alert_rule_tests() -> list[dict[str, Any]]:
    return [
        case for group in _load(RULES_TEST)["tests"] for case in group.get("alert_rule_test", [])
    ]


@pytest.mark.tools
def test_promtool_checks_the_rules_file() -> None:
    _run_promtool("check", "rules", str(RULES.relative_to(REPO_ROOT)))


@pytest.mark.tools
def test_promtool_unit_tests_of_the_rules_pass() -> None:
    _run_promtool("test", "rules", str(RULES_TEST.relative_to(REPO_ROOT)))


def test_every_alert_of_the_design_table_is_defined_in_its_group() -> None:
    groups = _alerts_by_group()
    for group, alerts in DESIGN_ALERTS.items():
        assert group in groups, f"rules.yml has no group {group!r}"
        missing = set(alerts) - set(groups[group])
        assert not missing, f"group {group!r} lacks alerts {sorted(missing)}"


def test_every_alert_has_severity_annotations_and_a_short_for() -> None:
    for group, alerts in _alerts_by_group().items():
        for name, rule in alerts.items():
            where = f"{group}/{name}"
            assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), f"{where}: not PascalCase"
            assert rule.get("labels", {}).get("severity") in SEVERITIES, (
                f"{where}: severity must be one of {sorted(SEVERITIES)}"
            )
            assert "for" in rule, f"{where}: no `for`"
            for_s = _duration_s(str(rule["for"]))
            assert 0 < for_s <= MAX_FOR_S, f"{where}: for {rule['for']!r} not in (0, 10 s]"
            annotations = rule.get("annotations", {})
            assert annotations.get("summary"), f"{where}: no summary annotation"
            assert annotations.get("description"), f"{where}: no description annotation"


def test_every_alert_has_a_firing_and_a_quiet_case_in_the_unit_tests() -> None:
    defined = {name for alerts in _alerts_by_group().values() for name in alerts}
    firing: dict[str, list[dict[str, Any]]] = {}
    quiet: set[str] = set()
    for case in _alert_rule_tests():
        expected = case.get("exp_alerts") or []
        if expected:
            firing.setdefault(case["alertname"], []).extend(expected)
        else:
            quiet.add(case["alertname"])
    assert not defined - set(firing), f"alerts with no firing case: {sorted(defined - set(firing))}"
    assert not defined - quiet, f"alerts with no not-firing case: {sorted(defined - quiet)}"
    assert not set(firing) - defined, f"tests of unknown alerts: {sorted(set(firing) - defined)}"
    for name, alerts in firing.items():
        for alert in alerts:
            labels = alert.get("exp_labels", {})
            assert labels.get("severity") in SEVERITIES, f"{name}: firing case lacks severity"
            assert "service" in labels or "component" in labels, (
                f"{name}: a firing alert must carry a `service` or `component` label"
            )
            assert alert.get("exp_annotations"), f"{name}: firing case must pin its annotations"


def test_duration_parser_reads_prometheus_durations() -> None:
    assert _duration_s("5s") == 5.0
    assert _duration_s("1m30s") == 90.0
    assert _duration_s("500ms") == 0.5
    with pytest.raises(AssertionError):
        _duration_s("5 seconds")
