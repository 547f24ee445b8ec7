"""The runner's alerting glue: routing labels from the loaded rules, figures for the terminal."""

from __future__ import annotations

from assertions.backends.prometheus import AlertRule
from assertions.checks.alert_routing import routed_integrations
from assertions.result import CheckResult, Status
from chaosgate.run.alert_judging import AlertingSetup, alerting_figures
from chaosgate.vocabulary import ExpectedAlert

CONFIG = {
    "route": {
        "receiver": "team-slack",
        "group_by": ["alertname", "service"],
        "routes": [{"receiver": "oncall", "matchers": ['severity="critical"']}],
    },
    "receivers": [
        {"name": "team-slack", "slack_configs": [{"api_url": "http://127.0.0.1:9/slack"}]},
        {
            "name": "oncall",
            "slack_configs": [{"api_url": "http://127.0.0.1:9/slack"}],
            "email_configs": [{"to": "a@b.example"}],
            "webhook_configs": [{"url": "http://127.0.0.1:9/alerts"}],
        },
    ],
}


def _rule(name: str, severity: str) -> AlertRule:
    return AlertRule(name, "g", {"severity": severity}, "up == 0", "ok", "rules.yml")


def test_the_rule_s_labels_route_an_expectation_that_does_not_name_its_severity() -> None:
    setup = AlertingSetup(CONFIG, (_rule("UsersServiceDown", "critical"),))
    labels = setup.labels_of(ExpectedAlert("UsersServiceDown", {"service": "users"}))
    assert labels == {"severity": "critical", "service": "users", "alertname": "UsersServiceDown"}
    assert routed_integrations(CONFIG, labels) == ("webhook", "slack", "email")
    # no such rule loaded: only the expectation's labels, the default route (Slack)
    unknown = setup.labels_of(ExpectedAlert("Nothing"))
    assert routed_integrations(CONFIG, unknown) == ("slack",)


def test_the_expectation_s_labels_win_over_the_rule_s() -> None:
    setup = AlertingSetup(CONFIG, (_rule("NetworkHighErrorRate", "warning"),))
    labels = setup.labels_of(ExpectedAlert("NetworkHighErrorRate", {"severity": "critical"}))
    assert labels["severity"] == "critical"


def test_figures_name_recall_precision_and_the_reduction() -> None:
    quality = CheckResult(
        "alerts.quality",
        Status.PASSED,
        None,
        {
            "recall": 1.0,
            "precision": 0.7333,
            "expected": 7,
            "fired_in_time": 7,
            "episodes_in_windows": 15,
            "named_episodes": 11,
        },
    )
    dedup = CheckResult(
        "alerts.dedup",
        Status.PASSED,
        None,
        {"received_total": 583.6, "sent_total": 46.1, "reduction": 0.921, "duplicates": 0},
    )
    lines = alerting_figures([quality, dedup])
    assert lines == [
        "alert quality: recall 100.0 % (7/7 expected alerts in time), precision 73.3 % "
        "(11/15 alerts in fault windows were expected)",
        "de-duplication: 92.1 % fewer notifications than alerts Alertmanager received "
        "(584 alerts received, 46 notifications sent); 0 duplicate(s)",
    ]
    unknown = CheckResult("alerts.dedup", Status.ERROR, None, {"reduction": None})
    assert "unknown" in alerting_figures([unknown])[0]
