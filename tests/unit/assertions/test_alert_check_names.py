from __future__ import annotations

import pytest

from assertions.checks.alert_check_names import (
    AlertCheckName,
    alert_check_name,
    parse_alert_check_name,
)


@pytest.mark.parametrize(
    ("title", "stage", "receiver"),
    [
        ("UsersServiceDown{service=users,severity=critical}", "fired", None),
        ("NodeHighCPU{instance=127.0.0.1:9100}", "resolved", None),  # dots in a label value
        ("GatewayHighErrorRate{component=gateway}", "notified.slack", "slack"),
        ("IoTDeviceOffline", "notified", None),  # routed to no receiver
    ],
)
def test_a_name_reads_back_as_its_title_and_stage(
    title: str, stage: str, receiver: str | None
) -> None:
    name = parse_alert_check_name(alert_check_name(title, stage))
    assert name == AlertCheckName(title, stage)
    assert name.receiver == receiver


@pytest.mark.parametrize(
    "other",
    ["alerts.coverage", "alert.X", "alert.X.fired.later", "chaos.kill-users", "slo.x.fired"],
)
def test_other_checks_are_not_alert_checks(other: str) -> None:
    assert parse_alert_check_name(other) is None
