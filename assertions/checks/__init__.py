"""Checks: ``check_*`` observe through a backend until a deadline, ``evaluate_*`` judge (pure)."""

from assertions.checks.alert_coverage import RuleOutcome, evaluate_coverage, rule_outcomes
from assertions.checks.alert_dedup import evaluate_dedup
from assertions.checks.alert_grouping import evaluate_grouping
from assertions.checks.alert_inhibition import ExpectedInhibition, evaluate_inhibition
from assertions.checks.alert_noise import evaluate_noise
from assertions.checks.alert_quality import QualityExpectation, evaluate_quality
from assertions.checks.alert_routing import Route, route_for, routed_integrations
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations, AlertWatcher
from assertions.checks.alerts import check_expected_alert, evaluate_expected_alert
from assertions.checks.completeness import (
    CompletenessExpected,
    CompletenessObservation,
    Expectation,
    evaluate_completeness,
)
from assertions.checks.logs import check_logs, evaluate_logs
from assertions.checks.slo import (
    SloExpected,
    SloObservation,
    SloStats,
    check_prometheus_slo,
    evaluate_slo,
    ledger_slo,
    prometheus_slo,
)
from assertions.checks.traces import check_traces, evaluate_traces

__all__ = [
    "AlertEpisode",
    "AlertObservations",
    "AlertWatcher",
    "CompletenessExpected",
    "CompletenessObservation",
    "Expectation",
    "ExpectedInhibition",
    "QualityExpectation",
    "Route",
    "RuleOutcome",
    "SloExpected",
    "SloObservation",
    "SloStats",
    "check_expected_alert",
    "check_logs",
    "check_prometheus_slo",
    "check_traces",
    "evaluate_completeness",
    "evaluate_coverage",
    "evaluate_dedup",
    "evaluate_expected_alert",
    "evaluate_grouping",
    "evaluate_inhibition",
    "evaluate_logs",
    "evaluate_noise",
    "evaluate_quality",
    "evaluate_slo",
    "evaluate_traces",
    "ledger_slo",
    "prometheus_slo",
    "route_for",
    "routed_integrations",
    "rule_outcomes",
]
