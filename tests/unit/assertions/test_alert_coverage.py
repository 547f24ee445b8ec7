"""``alerts.coverage`` over the rules Prometheus loaded, and the outcomes derived by name."""

from __future__ import annotations

import json
from pathlib import Path

from assertions.backends.prometheus import AlertRule
from assertions.checks.alert_coverage import RuleOutcome, evaluate_coverage, rule_outcomes
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert
from tests.unit.assertions.alert_support import DOWN

# the 16 rules of refstack/prometheus/rules.yml as Prometheus 2.42 listed them
_BODY = json.loads((Path(__file__).parent / "data" / "prometheus-2.42-rules.json").read_text())
RULES = [
    AlertRule(r["name"], g["name"], r["labels"], r["query"], r["health"], g["file"])
    for g in _BODY["data"]["groups"]
    for r in g["rules"]
]
NAMES = sorted(rule.name for rule in RULES)


def check(name: str, status: Status = Status.PASSED, reason: str = "") -> CheckResult:
    return CheckResult(name, status, None, None, reason)


def proof(title: str, *integrations: str) -> list[CheckResult]:
    return [
        check(f"alert.{title}.fired"),
        *(check(f"alert.{title}.notified.{i}") for i in integrations or ("webhook",)),
        check(f"alert.{title}.resolved"),
    ]


def test_rule_outcomes_need_every_check_of_every_expectation() -> None:
    iot = ExpectedAlert("IoTServiceDown", {"service": "iot"})
    gateway = ExpectedAlert("GatewayHighErrorRate")
    checks = [
        *proof(DOWN.title, "webhook", "slack", "email"),
        check(f"alert.{iot.title}.fired"),
        check(f"alert.{iot.title}.notified.slack", Status.FAILED, "no firing notification"),
        check(f"alert.{iot.title}.resolved"),
        check(f"alert.{gateway.title}.fired"),
        check(f"alert.{gateway.title}.notified.webhook"),
        check("alert.GatewayHighErrorRateX.resolved"),  # another alert's check
        check("alerts.noise", Status.FAILED),
    ]
    outcomes = rule_outcomes(checks, [DOWN, iot, gateway])
    assert outcomes["UsersServiceDown"] == RuleOutcome("proved")
    assert outcomes["IoTServiceDown"] == RuleOutcome(
        "exercised",
        ("alert.IoTServiceDown{service=iot}.notified.slack failed: no firing notification",),
    )
    assert outcomes["GatewayHighErrorRate"].unproved == (
        "no alert.GatewayHighErrorRate.resolved check",
    )
    routed_nowhere = [check(f"alert.{DOWN.title}.fired"), check(f"alert.{DOWN.title}.resolved")]
    assert rule_outcomes(routed_nowhere, [DOWN])["UsersServiceDown"].state == "exercised"


def test_two_expectations_of_one_alert_must_both_be_proved() -> None:
    users_only = ExpectedAlert("UsersServiceDown")
    checks = [*proof(DOWN.title), check(f"alert.{users_only.title}.fired", Status.ERROR)]
    assert rule_outcomes(checks, [DOWN, users_only])["UsersServiceDown"].state == "exercised"


def test_all_rules_proved_passes() -> None:
    named = {name: ["exp-" + name.lower()] for name in NAMES}
    outcomes = {name: RuleOutcome("proved") for name in NAMES}
    result = evaluate_coverage(RULES, named, outcomes, "all")
    assert result.passed and result.name == "alerts.coverage"
    assert result.observed == {
        "loaded": 16,
        "proved": NAMES,
        "exercised_without_proof": [],
        "not_named": [],
        "named_not_loaded": [],
    }
    assert result.evidence["rules"]["UsersServiceDown"]["group"] == "users"
    assert result.evidence["unhealthy"] == []


def test_a_required_rule_not_proved_fails_saying_why() -> None:
    named = {"UsersServiceDown": ["kill-users-service"], "IoTServiceDown": ["kill-iot"]}
    outcomes: dict[str, RuleOutcome | str] = {
        "UsersServiceDown": "proved",
        "IoTServiceDown": RuleOutcome("exercised", ("alert.IoTServiceDown.resolved failed: x",)),
    }
    result = evaluate_coverage(RULES, named, outcomes, "all")
    assert result.status is Status.FAILED
    assert (
        "IoTServiceDown was exercised by kill-iot but not proved: "
        "alert.IoTServiceDown.resolved failed: x"
    ) in result.reason
    assert "NodeHighCPU is not named by any experiment of the run" in result.reason
    assert result.observed["proved"] == ["UsersServiceDown"]
    assert result.observed["exercised_without_proof"] == ["IoTServiceDown"]
    assert len(result.observed["not_named"]) == 14
    # only what is required decides
    assert evaluate_coverage(RULES, named, outcomes, ["UsersServiceDown"]).passed
    failed = evaluate_coverage(RULES, named, outcomes, ["IoTServiceDown"])
    assert failed.status is Status.FAILED and "NodeHighCPU" not in failed.reason


def test_an_alert_named_but_not_loaded_fails_naming_rule_and_experiment() -> None:
    rules = [rule for rule in RULES if rule.name != "UsersServiceHighErrorRate"]
    named = {"UsersServiceHighErrorRate": ["users-error-ratio"], "UsersServiceDown": ["kill"]}
    outcomes = {"UsersServiceDown": "proved", "UsersServiceHighErrorRate": "proved"}
    result = evaluate_coverage(rules, named, outcomes, ["UsersServiceDown"])
    assert result.status is Status.FAILED
    assert result.reason == (
        "UsersServiceHighErrorRate (expected by users-error-ratio) is not loaded in Prometheus"
    )
    assert result.observed["named_not_loaded"] == ["UsersServiceHighErrorRate"]
    required_missing = evaluate_coverage(rules, {}, {}, ["NoSuchRule"])
    assert required_missing.reason == "NoSuchRule is required but not loaded in Prometheus"


def test_unreadable_rules_are_an_error() -> None:
    result = evaluate_coverage(None, {}, {}, "all", rules_error="prometheus at x: HTTP 503")
    assert result.status is Status.ERROR
    assert (
        result.reason == "prometheus' alerting rules could not be read: prometheus at x: HTTP 503"
    )
