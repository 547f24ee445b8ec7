"""``alerts.grouping`` over webhook notifications shaped like Alertmanager 0.25's."""

from __future__ import annotations

from assertions.backends.sink import Notification
from assertions.checks.alert_grouping import evaluate_grouping
from assertions.result import Status
from tests.unit.assertions.alert_support import (
    NET,
    NET_KEY,
    disk,
    net,
    titled,
    watched,
    webhook,
)

GROUP_BY = ("alertname", "service")
DISKS = "NodeDiskAlmostFull (node node:9100 warning)"  # group values (common values)


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


# --- Slack and email, judged by the [FIRING:N] of their title ---


def test_a_warning_group_in_one_slack_notification_passes_and_is_exercised() -> None:
    observations = watched(disk("/", 1000.0), disk("/data", 1000.0))
    notes = [titled(1002.0, f"[FIRING:2] {DISKS}"), titled(1030.0, f"[RESOLVED] {DISKS}")]
    result = evaluate_grouping(notes, GROUP_BY, 2.0, observations=observations)
    assert result.passed
    assert result.observed["exercised"] is True and result.observed["largest_group"] == 2
    assert result.observed["text_receivers_groups"] == {"slack": 1, "email": 0}
    assert "note" not in result.observed
    (view,) = result.evidence["text_groups"]
    assert view["group"] == {"alertname": "NodeDiskAlmostFull"}
    assert view["slack"] == {"title": f"[FIRING:2] {DISKS}", "firing_count": 2, "required": 2}
    # the webhook alone never saw this group
    assert evaluate_grouping(notes, GROUP_BY, 2.0).observed["exercised"] is False


def test_a_warning_group_split_over_two_slack_notifications_fails() -> None:
    observations = watched(disk("/", 1000.0), disk("/data", 1000.0))
    notes = [
        titled(990.0, f"[FIRING:1] {DISKS}"),  # before the group started: not its first
        titled(1001.5, "[FIRING:1] NodeDiskAlmostFull users (warning)"),  # another group
        titled(1002.0, "[FIRING:1] NodeDiskAlmostFull (node node:9100 / warning)"),
        titled(1003.0, "[FIRING:1] NodeDiskAlmostFull (node node:9100 /data warning)"),
        titled(1007.0, f"[FIRING:2] {DISKS}"),
    ]
    result = evaluate_grouping(notes, GROUP_BY, 2.0, observations=observations)
    assert result.status is Status.FAILED
    assert result.reason.startswith("1 grouping problem(s); first: group {'alertname': 'NodeDisk")
    assert "the first slack notification after its 2 alerts started together (2.0 s after)" in (
        result.reason
    )
    assert "reported 1 firing ('[FIRING:1] NodeDiskAlmostFull (node node:9100 / warning)')" in (
        result.reason
    )
    assert result.observed["exercised"] is True


def test_email_is_judged_like_slack() -> None:
    observations = watched(disk("/", 1000.0), disk("/data", 1000.0))
    notes = [
        titled(1002.0, f"[FIRING:2] {DISKS}"),
        titled(1002.1, f"[FIRING:1] {DISKS}", receiver="email"),
    ]
    result = evaluate_grouping(notes, GROUP_BY, 2.0, observations=observations)
    assert result.status is Status.FAILED and "the first email notification" in result.reason
    assert result.observed["text_receivers_groups"] == {"slack": 1, "email": 1}


def test_alerts_started_far_apart_need_not_arrive_together() -> None:
    observations = watched(disk("/", 1000.0), disk("/data", 1030.0))
    notes = [titled(1002.0, f"[FIRING:1] {DISKS}"), titled(1035.0, f"[FIRING:2] {DISKS}")]
    result = evaluate_grouping(notes, GROUP_BY, 2.0, observations=observations)
    assert result.passed and result.observed["exercised"] is False
    assert result.observed["text_receivers_groups"] == {"slack": 0, "email": 0}
    assert "grouping of several alerts was not exercised" in result.observed["note"]
    # within group_wait - slack of each other, they must
    slow = [titled(1042.0, f"[FIRING:1] {DISKS}"), titled(1047.0, f"[FIRING:2] {DISKS}")]
    failed = evaluate_grouping(slow, GROUP_BY, 40.0, observations=observations)
    assert failed.status is Status.FAILED and "reported 1 firing" in failed.reason
    # and one started after the first notification cannot have been in it
    assert evaluate_grouping(notes, GROUP_BY, 40.0, observations=observations).passed


def test_without_observations_text_notifications_are_not_judged() -> None:
    notes = [titled(1002.0, f"[FIRING:1] {DISKS}"), titled(1003.0, f"[FIRING:1] {DISKS}")]
    result = evaluate_grouping(notes, GROUP_BY, 2.0)
    assert result.passed and result.observed["exercised"] is False
    assert "text_receivers_groups" not in result.observed
    assert "text_groups" not in result.evidence


def test_suppressed_or_resolved_alerts_are_not_required() -> None:
    notes = [titled(1002.0, f"[FIRING:1] {DISKS}")]
    inhibited = watched(disk("/", 1000.0), disk("/data", 1000.0, suppressed_polls=3))
    assert evaluate_grouping(notes, GROUP_BY, 2.0, observations=inhibited).passed
    gone = watched(disk("/", 1000.0), disk("/data", 1000.0, last_seen=1001.5))
    result = evaluate_grouping(notes, GROUP_BY, 2.0, observations=gone)
    assert result.passed and result.observed["exercised"] is False
    assert result.evidence["text_groups"][0]["slack"]["required"] == 1


def test_a_group_is_judged_again_only_once_its_earlier_alerts_resolved() -> None:
    notes = [
        titled(902.0, f"[FIRING:1] {DISKS}"),
        titled(1002.0, f"[FIRING:1] {DISKS}"),
        titled(1007.0, f"[FIRING:3] {DISKS}"),
    ]
    later = (disk("/", 1000.0), disk("/data", 1000.0))
    live = watched(disk("/boot", 900.0), *later)  # /boot still firing: the group never emptied
    result = evaluate_grouping(notes, GROUP_BY, 2.0, observations=live)
    assert result.passed and result.evidence["text_groups"] == []
    emptied = watched(disk("/boot", 900.0, resolved_at=950.0, last_seen=949.5), *later)
    result = evaluate_grouping(notes, GROUP_BY, 2.0, observations=emptied)
    assert result.status is Status.FAILED and "(2.0 s after) reported 1 firing" in result.reason


def test_a_group_without_a_text_notification_is_listed_not_judged() -> None:
    observations = watched(disk("/", 1000.0), disk("/data", 1000.0))
    result = evaluate_grouping([], GROUP_BY, 2.0, observations=observations)
    assert result.passed and result.observed["exercised"] is False
    assert result.evidence["text_groups_without_notification"] == [
        {"alertname": "NodeDiskAlmostFull"}
    ]
