"""``alerts.grouping`` over webhook notifications shaped like Alertmanager 0.25's."""

from __future__ import annotations

from assertions.backends.sink import Notification
from assertions.checks.alert_grouping import evaluate_grouping
from assertions.result import Status
from tests.unit.assertions.alert_support import NET, NET_KEY, net, webhook

GROUP_BY = ("alertname", "service")


def test_alerts_started_together_in_one_first_notification_pass() -> None:
    notes = [
        webhook(1002.0, net("eth0", 1000.0), net("eth1", 1000.0)),
        webhook(1007.0, net("eth0", 1000.0), net("eth1", 1000.0), net("eth2", 1004.0)),
        webhook(1012.0, net("eth0", 1000.0, "resolved"), net("eth1", 1000.0), net("eth2", 1004.0)),
        Notification(1003.0, {"attachments": []}, receiver="slack", title="[FIRING:2] x"),
    ]
    result = evaluate_grouping(notes, GROUP_BY, group_wait_s=2.0)
    assert result.passed and result.name == "alerts.grouping"
    assert result.observed == {
        "notifications": 3,  # the Slack message is not judged here
        "groups": 1,
        "alerts": 3,
        "first_notifications": 1,
        "largest_group": 3,
        "exercised": True,
    }
    assert result.expected["first_notification_holds_alerts_started_within_s"] == 1.0


def test_an_alert_of_the_first_batch_in_a_later_notification_fails() -> None:
    notes = [
        webhook(1002.0, net("eth0", 1000.0)),
        webhook(1007.0, net("eth0", 1000.0), net("eth1", 1000.0)),  # same evaluation, late
    ]
    result = evaluate_grouping(notes, GROUP_BY, group_wait_s=1.0)
    assert result.status is Status.FAILED
    assert NET_KEY in result.reason and "NetworkHighErrorRate (fp-eth1) started 0.0 s after" in (
        result.reason
    )
    assert "came 5.0 s after the group's first notification" in result.reason


def test_an_alert_started_later_than_group_wait_may_come_later() -> None:
    notes = [
        webhook(1002.0, net("eth0", 1000.0)),
        webhook(1007.0, net("eth0", 1000.0), net("eth1", 1001.5)),
    ]
    assert evaluate_grouping(notes, GROUP_BY, group_wait_s=1.0).passed
    # within group_wait but not by more than the slack: alertmanager may have flushed first
    assert evaluate_grouping(notes, GROUP_BY, group_wait_s=2.0).passed
    assert evaluate_grouping(notes, GROUP_BY, group_wait_s=3.0).status is Status.FAILED


def test_a_group_that_emptied_starts_a_new_life() -> None:
    notes = [
        webhook(1002.0, net("eth0", 1000.0)),
        webhook(1010.0, net("eth0", 1000.0, "resolved")),
        webhook(1032.0, net("eth1", 1030.0)),
        webhook(1037.0, net("eth1", 1030.0), net("eth2", 1034.0)),
    ]
    result = evaluate_grouping(notes, GROUP_BY, group_wait_s=2.0)
    assert result.passed and result.observed["first_notifications"] == 2


def test_mixed_groups_fail_naming_the_group() -> None:
    users = net("eth0", 1000.0, service="users")
    result = evaluate_grouping([webhook(1002.0, net("eth1", 1000.0), users)], GROUP_BY, 1.0)
    assert result.status is Status.FAILED
    assert f"group {NET_KEY}" in result.reason
    assert (
        "whose group_by labels are {'alertname': 'NetworkHighErrorRate', 'service': 'users'}"
        in (result.reason)
    )
    relabelled = [
        webhook(1002.0, net("eth0", 1000.0)),
        webhook(1007.0, net("eth0", 1000.0), group_labels={"alertname": NET["alertname"]}),
    ]
    result = evaluate_grouping(relabelled, GROUP_BY, 1.0)
    assert result.status is Status.FAILED
    assert "changed its groupLabels" in result.evidence["problems"][-1]


def test_group_by_everything() -> None:
    alert = net("eth0", 1000.0)
    whole = webhook(1002.0, alert, group_labels=dict(alert["labels"]))
    assert evaluate_grouping([whole], ("...",), 1.0).passed
    assert evaluate_grouping([webhook(1002.0, alert)], ("...",), 1.0).status is Status.FAILED


def test_single_alert_groups_pass_as_not_exercised() -> None:
    other_key = '{}/{severity="critical"}:{alertname="UsersServiceDown", service="users"}'
    down = {**net("x", 1000.0), "labels": {"alertname": "UsersServiceDown", "service": "users"}}
    notes = [
        webhook(1002.0, net("eth0", 1000.0)),
        webhook(
            1003.0,
            down,
            key=other_key,
            group_labels={"alertname": "UsersServiceDown", "service": "users"},
        ),
    ]
    result = evaluate_grouping(notes, GROUP_BY, 1.0)
    assert result.passed
    assert result.observed["exercised"] is False and result.observed["groups"] == 2
    assert "grouping of several alerts was not exercised" in result.observed["note"]
    assert evaluate_grouping([], GROUP_BY, 1.0).observed["exercised"] is False


def test_a_notification_without_grouping_fields_is_an_error() -> None:
    bare = Notification(1002.0, {"status": "firing", "alerts": [net("eth0", 1000.0)]})
    result = evaluate_grouping([bare], GROUP_BY, 1.0)
    assert result.status is Status.ERROR and "has no groupKey or groupLabels" in result.reason
    no_start = webhook(1002.0, {**net("eth0", 1000.0), "startsAt": "soon"})
    assert evaluate_grouping([no_start], GROUP_BY, 1.0).status is Status.ERROR
