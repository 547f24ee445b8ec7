"""``alert.<title>.notified.<integration>``: per integration from the sink, or from
Alertmanager's counters for an integration chaosgate cannot read; and the waiting check."""

from __future__ import annotations

from typing import Any

import httpx

from assertions.backends.errors import BackendError
from assertions.backends.sink import Notification, SinkBackend
from assertions.checks.alert_delivery import COUNTERS_BASIS
from assertions.checks.alerts import check_expected_alert, evaluate_expected_alert
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert
from tests.support.clocks import FakeClock
from tests.unit.assertions.alert_support import (
    DOWN,
    INJECT,
    SINK,
    FakeAlertmanager,
    by_suffix,
    down_alert,
    episode,
    note,
    watched,
    watcher_for,
)
from tests.unit.assertions.support import Recorder

ONCALL = ("webhook", "slack", "email")
SEEN = watched(episode(1005.0, 1005.6))


def titled(at: float, receiver: str, title: str) -> Notification:
    """A Slack message or mail as the sink records it: Alertmanager's default title."""
    payload: dict[str, Any] = (
        {"attachments": [{"title": title, "text": ""}]}
        if receiver == "slack"
        else {"subject": title, "text": "", "to": "oncall@restaurant.test"}
    )
    return Notification(at, payload, receiver=receiver, title=title)


def delivery(notifications: list[Notification], **kwargs: Any) -> dict[str, CheckResult]:
    results = evaluate_expected_alert(SEEN, DOWN, INJECT, None, notifications, **kwargs)
    return {name: result for name, result in by_suffix(results).items() if name != "fired"}


def test_each_routed_integration_is_judged_on_its_own_notifications() -> None:
    notes = [
        note(1006.5),
        titled(1006.9, "slack", "[FIRING:1] UsersServiceDown users (critical)"),
        titled(1008.0, "email", "[FIRING:1] UsersServiceDown users (critical)"),
    ]
    results = delivery(notes, routed=ONCALL)
    assert list(results) == ["notified.webhook", "notified.slack", "notified.email"]
    assert all(result.passed for result in results.values())
    assert [result.latency_s for result in results.values()] == [6.5, 6.9, 8.0]
    slack = results["notified.slack"]
    assert slack.name == "alert.UsersServiceDown{service=users}.notified.slack"
    assert slack.evidence["title"] == "[FIRING:1] UsersServiceDown users (critical)"
    assert slack.evidence["notifications_read"] == 1
    assert slack.expected == {"integration": "slack", "status": "firing", "within_s": 30.0}


def test_another_integrations_notification_does_not_count() -> None:
    notes = [note(1006.5), titled(1006.9, "slack", "[FIRING:1] UsersServiceDown users (critical)")]
    results = delivery(notes, routed=ONCALL)
    assert results["notified.slack"].passed
    email = results["notified.email"]
    assert email.status is Status.FAILED
    assert email.reason == (
        "no firing notification of UsersServiceDown{service=users} reached email after inject"
    )


def test_a_title_must_name_the_alert_and_its_labels_firing_after_inject() -> None:
    wrong = [
        titled(1006.0, "slack", "[FIRING:1] UsersServiceDown iot (critical)"),  # other service
        titled(1006.0, "slack", "[RESOLVED] UsersServiceDown users (critical)"),
        titled(999.0, "slack", "[FIRING:1] UsersServiceDown users (critical)"),  # before inject
        titled(1006.0, "slack", "[FIRING:1] IoTServiceDown users (critical)"),
    ]
    assert delivery(wrong, routed=("slack",))["notified.slack"].status is Status.FAILED
    late = delivery(
        [titled(1031.0, "slack", "[FIRING:2] UsersServiceDown users (critical)")],
        routed=("slack",),
    )["notified.slack"]
    assert late.status is Status.FAILED and late.latency_s == 31.0
    assert "reached slack 31.0 s after inject, later than 30 s" in late.reason


def test_titles_are_matched_on_the_labels_the_route_groups_by() -> None:
    """Seen on Alertmanager 0.25: two devices' NetworkHighErrorRate in one group are titled
    "[FIRING:2] NetworkHighErrorRate gateway (critical)"; the device is in no title."""
    eth1 = ExpectedAlert("NetworkHighErrorRate", {"service": "gateway", "device": "eth1"})
    seen = watched(episode(1005.0, 1005.6, alertname="NetworkHighErrorRate", device="eth1"))
    title = "[FIRING:2] NetworkHighErrorRate gateway (critical)"
    notes = [titled(1007.0, "slack", title)]
    strict = by_suffix(evaluate_expected_alert(seen, eth1, INJECT, None, notes, routed=("slack",)))
    assert strict["notified.slack"].status is Status.FAILED
    grouped = by_suffix(
        evaluate_expected_alert(
            seen, eth1, INJECT, None, notes, routed=("slack",), group_by=("alertname", "service")
        )
    )["notified.slack"]
    assert grouped.passed and grouped.evidence["title_labels"] == {"service": "gateway"}
    other = [titled(1007.0, "slack", "[FIRING:1] NetworkHighErrorRate users (critical)")]
    assert not by_suffix(
        evaluate_expected_alert(
            seen, eth1, INJECT, None, other, routed=("slack",), group_by=("alertname", "service")
        )
    )["notified.slack"].passed


def test_routed_to_nothing_is_one_failed_result() -> None:
    results = delivery([note(1006.5)], routed=())
    (result,) = results.values()
    assert result.name == "alert.UsersServiceDown{service=users}.notified"
    assert result.status is Status.FAILED and "routed to no receiver" in result.reason


def test_duplicate_routes_give_one_result_each() -> None:
    assert list(delivery([note(1006.5)], routed=("slack", "webhook", "slack"))) == [
        "notified.slack",
        "notified.webhook",
    ]


def test_an_unreadable_integration_is_judged_from_alertmanagers_counters() -> None:
    routed = ("webhook", "pagerduty")
    readable = ("webhook",)
    results = delivery(
        [note(1006.5)], routed=routed, readable=readable, counters={"pagerduty": (2.0, 0.0)}
    )
    pager = results["notified.pagerduty"]
    assert pager.passed and pager.latency_s is None
    assert pager.observed == {"judged_from": "alertmanager_counters", "sent": 2.0, "failed": 0.0}
    assert pager.evidence["basis"] == COUNTERS_BASIS and "not per alert" in COUNTERS_BASIS
    assert pager.expected["window"] == [INJECT, INJECT + 30.0]

    none_sent = delivery([], routed=routed, readable=readable, counters={"pagerduty": (0.0, 0.0)})
    assert none_sent["notified.pagerduty"].status is Status.FAILED
    assert "alertmanager sent no pagerduty notification in the 30 s after inject" in (
        none_sent["notified.pagerduty"].reason
    )
    failing = delivery([], routed=routed, readable=readable, counters={"pagerduty": (3.0, 1.0)})
    assert failing["notified.pagerduty"].status is Status.FAILED
    assert "1 pagerduty notification(s) failed" in failing["notified.pagerduty"].reason
    assert "not per alert" in failing["notified.pagerduty"].reason


def test_unknown_counters_are_errors() -> None:
    routed, readable = ("pagerduty",), ("webhook",)
    unknown = delivery([], routed=routed, readable=readable, counters={"pagerduty": None})
    assert unknown["notified.pagerduty"].status is Status.ERROR
    assert "could not be read from prometheus" in unknown["notified.pagerduty"].reason
    no_reader = delivery([], routed=routed, readable=readable)
    assert no_reader["notified.pagerduty"].status is Status.ERROR
    assert no_reader["notified.pagerduty"].reason == (
        "chaosgate cannot read pagerduty notifications (the sink records webhook) and no "
        "reader of alertmanager's counters was given"
    )
    not_yet = delivery([], routed=routed, readable=readable, counters={})
    assert not_yet["notified.pagerduty"].status is Status.ERROR


def test_a_dead_sink_errors_every_sink_judged_integration_only() -> None:
    results = delivery(
        [],
        routed=("webhook", "slack", "pagerduty"),
        readable=("webhook", "slack"),
        counters={"pagerduty": (1.0, 0.0)},
        sink_error="sink at x: ConnectError",
    )
    assert results["notified.webhook"].status is Status.ERROR
    assert results["notified.slack"].status is Status.ERROR
    assert results["notified.pagerduty"].passed


# --- the waiting check ---


class Run:
    """Alertmanager fires at 1006, the sink has the webhook notification from 1007."""

    def __init__(self) -> None:
        self.clock = FakeClock(now=INJECT)
        self.alertmanager = FakeAlertmanager()
        self.watcher = watcher_for(self.alertmanager, self.clock)
        self.sink_requests = Recorder(self.answer)
        self.sink = SinkBackend(self.sink_requests.client(), SINK)
        self.counter_calls: list[tuple[str, float, float, float]] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        payload = {"status": "firing", "alerts": [down_alert(1006.0) | {"status": "firing"}]}
        items = [{"received_at_unix": 1007.0, "payload": payload}] if self.clock.now >= 1007 else []
        return httpx.Response(200, json={"notifications": items})

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        if self.clock.now >= 1006.0:
            self.alertmanager.alerts = [down_alert(1006.0)]
        self.watcher.poll_once()

    def counters(self, integration: str, start: float, end: float) -> tuple[float, float] | None:
        self.counter_calls.append((integration, start, end, self.clock.now))
        return (1.0, 0.0)

    def check(self, **kwargs: Any) -> dict[str, CheckResult]:
        self.watcher.poll_once()
        return by_suffix(
            check_expected_alert(
                self.watcher,
                DOWN,
                backend=self.sink,
                inject_at=INJECT,
                clock=self.clock,
                sleep=self.sleep,
                **kwargs,
            )
        )


def test_the_check_reads_the_sink_once_per_poll_for_every_integration() -> None:
    run = Run()
    results = run.check(routed=("webhook", "slack"), readable=("webhook", "slack"))
    assert results["notified.webhook"].passed
    assert results["notified.slack"].status is Status.FAILED  # never got one
    reads = len(run.sink_requests.requests)
    assert results["notified.webhook"].attempts == results["notified.slack"].attempts == reads
    assert INJECT + 30 < run.clock.now <= INJECT + 31


def test_the_check_asks_the_counters_once_when_the_window_is_over() -> None:
    run = Run()
    results = run.check(
        routed=("webhook", "pagerduty"), readable=("webhook",), counters=run.counters
    )
    assert all(result.passed for result in results.values())
    ((integration, start, end, asked_at),) = run.counter_calls
    assert (integration, start, end) == ("pagerduty", INJECT, INJECT + 30.0)
    assert asked_at >= INJECT + 30.0
    assert results["notified.pagerduty"].evidence["judged_from"] == "alertmanager_counters"


def test_counters_that_fail_are_an_error_not_a_crash() -> None:
    run = Run()

    def broken(integration: str, start: float, end: float) -> tuple[float, float] | None:
        raise BackendError("prometheus", "http://p/api/v1/query", "HTTP 503")

    results = run.check(routed=("pagerduty",), readable=("webhook",), counters=broken)
    assert results["fired"].passed
    assert results["notified.pagerduty"].status is Status.ERROR
