"""The pure judging of one expected alert (fired, notified, resolved) and the waiting check."""

from __future__ import annotations

import httpx

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.sink import Notification, SinkBackend
from assertions.checks.alert_watcher import AlertObservations, AlertWatcher
from assertions.checks.alerts import check_expected_alert, evaluate_expected_alert
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert
from tests.support.clocks import FakeClock
from tests.unit.assertions.alert_support import (
    AM,
    DOWN,
    INJECT,
    SINK,
    by_suffix,
    down_alert,
    episode,
    note,
    watched,
)
from tests.unit.assertions.support import Recorder


def test_fired_notified_and_resolved_in_time() -> None:
    seen = watched(episode(1005.0, 1005.6, resolved_at=1052.0))
    notes = [note(1006.5), note(1052.5, "resolved")]
    results = by_suffix(
        evaluate_expected_alert(seen, DOWN, INJECT, 1040.0, notes, resolve_deadline_s=30)
    )
    assert set(results) == {"fired", "notified.webhook", "resolved"}
    assert all(result.passed for result in results.values())
    fired = results["fired"]
    assert fired.name == "alert.UsersServiceDown{service=users}.fired"
    assert fired.latency_s == 5.6
    assert fired.observed == {"fired_after_s": 5.6, "starts_at_after_s": 5.0}
    assert fired.attempts == 42
    assert results["notified.webhook"].latency_s == 6.5
    assert results["resolved"].latency_s == 12.0
    assert results["resolved"].evidence["resolved_notification_at"] == 1052.5
    assert results["resolved"].evidence["resolved_notifications"] == {"webhook": 1052.5}


def test_no_rollback_no_resolved_result() -> None:
    results = evaluate_expected_alert(
        watched(episode(1005.0, 1005.6)), DOWN, INJECT, None, [note(1006.0)]
    )
    assert list(by_suffix(results)) == ["fired", "notified.webhook"]


def test_firing_after_the_deadline_fails_with_its_latency() -> None:
    results = by_suffix(
        evaluate_expected_alert(
            watched(episode(1031.0, 1031.5)), DOWN, INJECT, None, [note(1032.0)]
        )
    )
    assert results["fired"].status is Status.FAILED
    assert results["fired"].latency_s == 31.5
    assert "31.5 s after inject, later than 30 s" in results["fired"].reason
    assert results["notified.webhook"].status is Status.FAILED


def test_never_firing_in_a_watched_window_fails() -> None:
    other = episode(1005.0, 1005.5, service="iot")  # labels do not match
    results = by_suffix(evaluate_expected_alert(watched(other), DOWN, INJECT, 1040.0, []))
    assert results["fired"].status is Status.FAILED
    assert "did not fire within 30 s" in results["fired"].reason
    assert results["notified.webhook"].status is Status.FAILED
    assert results["resolved"].status is Status.FAILED


def test_absence_in_an_unwatched_window_is_an_error() -> None:
    stopped_early = watched(
        first=990.0, last=1010.0, errors=((1011.0, "alertmanager at x: timed out"),)
    )
    results = by_suffix(evaluate_expected_alert(stopped_early, DOWN, INJECT, 1040.0, []))
    assert results["fired"].status is Status.ERROR
    assert "timed out" in results["fired"].reason
    assert results["resolved"].status is Status.ERROR
    never = AlertObservations(errors=((995.0, "alertmanager at x: ConnectError"),), polls=80)
    fired = evaluate_expected_alert(never, DOWN, INJECT, None, [])[0]
    assert fired.status is Status.ERROR and "ConnectError" in fired.reason


def test_absence_with_failed_polls_in_the_window_is_an_error() -> None:
    gaps = watched(errors=((1010.0, "alertmanager at x: HTTP 503"),))
    fired = evaluate_expected_alert(gaps, DOWN, INJECT, None, [])[0]
    assert fired.status is Status.ERROR and "1 alertmanager polls failed" in fired.reason


def test_already_firing_at_inject_is_an_error() -> None:
    fired = evaluate_expected_alert(watched(episode(900.0, 990.0)), DOWN, INJECT, None, [])[0]
    assert fired.status is Status.ERROR and "already firing" in fired.reason


def test_an_old_resolved_episode_does_not_hide_a_new_one() -> None:
    seen = watched(episode(900.0, 990.0, resolved_at=995.0), episode(1010.0, 1010.5))
    fired = evaluate_expected_alert(seen, DOWN, INJECT, None, [])[0]
    assert fired.passed and fired.latency_s == 10.5


def test_a_watcher_started_late_still_credits_an_alert_it_saw_appear() -> None:
    seen = watched(episode(1003.0, 1004.0), first=1002.0)
    assert evaluate_expected_alert(seen, DOWN, INJECT, None, [])[0].passed


def test_notification_rules() -> None:
    seen = watched(episode(1005.0, 1005.6))
    stale = note(990.0)  # before inject
    resolved_only = note(1010.0, "resolved")
    wrong_labels = note(1010.0, service="iot")
    results = by_suffix(
        evaluate_expected_alert(seen, DOWN, INJECT, None, [stale, resolved_only, wrong_labels])
    )
    assert results["notified.webhook"].status is Status.FAILED
    assert results["notified.webhook"].evidence["notifications_read"] == 3
    late = by_suffix(evaluate_expected_alert(seen, DOWN, INJECT, None, [note(1040.0)]))[
        "notified.webhook"
    ]
    assert late.status is Status.FAILED and late.latency_s == 40.0
    grouped = Notification(
        1007.0,
        {
            "status": "firing",
            "alerts": [
                {
                    "status": "resolved",
                    "labels": {"alertname": "UsersServiceDown", "service": "users"},
                },
            ],
        },
    )
    assert not by_suffix(evaluate_expected_alert(seen, DOWN, INJECT, None, [grouped]))[
        "notified.webhook"
    ].passed
    down = evaluate_expected_alert(
        seen, DOWN, INJECT, None, [], sink_error="sink at x: ConnectError"
    )
    assert by_suffix(down)["notified.webhook"].status is Status.ERROR
    assert by_suffix(down)["notified.webhook"].reason == "sink at x: ConnectError"


def test_still_firing_after_the_resolve_deadline_fails() -> None:
    seen = watched(episode(1005.0, 1005.6), last=1100.0)
    resolved = evaluate_expected_alert(seen, DOWN, INJECT, 1040.0, [], resolve_deadline_s=30)[2]
    assert (
        resolved.status is Status.FAILED and "still firing 30 s after rollback" in resolved.reason
    )


def test_still_firing_when_the_watcher_stopped_early_is_an_error() -> None:
    seen = watched(episode(1005.0, 1005.6), last=1050.0)
    resolved = evaluate_expected_alert(seen, DOWN, INJECT, 1040.0, [], resolve_deadline_s=30)[2]
    assert resolved.status is Status.ERROR


def test_resolving_late_fails() -> None:
    seen = watched(episode(1005.0, 1005.6, resolved_at=1090.0))
    resolved = evaluate_expected_alert(seen, DOWN, INJECT, 1040.0, [], resolve_deadline_s=30)[2]
    assert resolved.status is Status.FAILED and resolved.latency_s == 50.0


def test_a_new_episode_after_the_rollback_is_not_this_faults() -> None:
    """Seen in a gate run: NodeHighCPU resolved 2 s after its rollback, then the next
    experiment (a memory fill) made it fire again; that episode is not the CPU fault's."""
    own = episode(1005.0, 1005.6, resolved_at=1042.0)
    next_fault = episode(1060.0, 1060.3, resolved_at=1095.0)
    seen = watched(own, next_fault, last=1100.0)
    resolved = evaluate_expected_alert(seen, DOWN, INJECT, 1040.0, [], resolve_deadline_s=30)[2]
    assert resolved.passed and resolved.latency_s == 2.0
    still_firing = episode(1060.0, 1060.3)
    seen = watched(own, still_firing, last=1100.0)
    resolved = evaluate_expected_alert(seen, DOWN, INJECT, 1040.0, [], resolve_deadline_s=30)[2]
    assert resolved.passed and resolved.latency_s == 2.0


def test_an_episode_first_seen_after_the_rollback_is_judged_when_it_is_the_only_one() -> None:
    late = episode(1045.0, 1045.5, resolved_at=1090.0)
    resolved = evaluate_expected_alert(
        watched(late), DOWN, INJECT, 1040.0, [], resolve_deadline_s=30
    )[2]
    assert resolved.status is Status.FAILED and resolved.latency_s == 50.0


def test_titles_are_unique_per_expectation() -> None:
    assert ExpectedAlert("A").title == "A"
    assert ExpectedAlert("A", {"z": "1", "b": "2"}).title == "A{b=2,z=1}"
    assert ExpectedAlert("A", {"b": "2"}).matches({"alertname": "A", "b": "2", "c": "3"})
    assert not ExpectedAlert("A", {"b": "2"}).matches({"alertname": "A"})


# --- waiting for the deadlines ---


class Scenario:
    """Alertmanager and sink whose answers follow a fake clock; sleeping polls the watcher."""

    def __init__(
        self, fire_at: float | None, notify_at: float | None, resolve_at: float | None
    ) -> None:
        self.clock = FakeClock(now=INJECT - 1)
        self.fire_at, self.notify_at, self.resolve_at = fire_at, notify_at, resolve_at
        self.sink_failure = False
        self.watcher = AlertWatcher(
            AlertmanagerBackend(Recorder(self.alertmanager).client(), AM), clock=self.clock
        )
        self.sink = SinkBackend(Recorder(self.sink_answer).client(), SINK)
        self.watcher.poll_once()

    def alertmanager(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.now
        firing = self.fire_at is not None and now >= self.fire_at
        resolved = self.resolve_at is not None and now >= self.resolve_at
        return httpx.Response(
            200, json=[down_alert(self.fire_at or 0.0)] if firing and not resolved else []
        )

    def sink_answer(self, request: httpx.Request) -> httpx.Response:
        if self.sink_failure:
            return httpx.Response(502, text="bad gateway")
        items = []
        if self.notify_at is not None and self.clock.now >= self.notify_at:
            payload = {
                "status": "firing",
                "alerts": [down_alert(self.fire_at or 0.0) | {"status": "firing"}],
            }
            items.append({"received_at_unix": self.notify_at, "payload": payload})
        return httpx.Response(200, json={"notifications": items})

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)
        self.watcher.poll_once()

    def check(self, rollback_at: float | None = None) -> dict[str, CheckResult]:
        self.clock.now = INJECT
        self.watcher.poll_once()
        return by_suffix(
            check_expected_alert(
                self.watcher,
                DOWN,
                backend=self.sink,
                inject_at=INJECT,
                rollback_at=rollback_at,
                resolve_deadline_s=30,
                clock=self.clock,
                sleep=self.sleep,
            )
        )


def test_the_check_returns_as_soon_as_everything_passed() -> None:
    scenario = Scenario(fire_at=1006.0, notify_at=1007.0, resolve_at=None)
    results = scenario.check()
    assert all(result.passed for result in results.values())
    assert results["fired"].latency_s == 6.0
    assert 1007.0 <= scenario.clock.now < 1008.0
    assert results["notified.webhook"].attempts > 1  # sink reads


def test_the_check_waits_for_resolution_after_rollback() -> None:
    scenario = Scenario(fire_at=1006.0, notify_at=1007.0, resolve_at=1052.0)
    results = scenario.check(rollback_at=1040.0)
    assert all(result.passed for result in results.values())
    assert results["resolved"].latency_s == 12.0


def test_the_check_gives_up_at_the_deadline() -> None:
    scenario = Scenario(fire_at=None, notify_at=None, resolve_at=None)
    results = scenario.check()
    assert results["fired"].status is Status.FAILED
    assert results["notified.webhook"].status is Status.FAILED
    assert INJECT + 30 < scenario.clock.now <= INJECT + 31


def test_the_check_reports_a_dead_sink_as_an_error() -> None:
    scenario = Scenario(fire_at=1006.0, notify_at=1007.0, resolve_at=None)
    scenario.sink_failure = True
    results = scenario.check()
    assert results["fired"].passed
    assert results["notified.webhook"].status is Status.ERROR
    assert results["notified.webhook"].reason.startswith(f"sink at {SINK}/notifications: HTTP 502")


def test_the_deadline_can_be_overridden() -> None:
    deadline = 5.0
    scenario = Scenario(fire_at=1006.0, notify_at=1007.0, resolve_at=None)
    scenario.clock.now = INJECT
    results = check_expected_alert(
        scenario.watcher,
        DOWN,
        backend=scenario.sink,
        inject_at=INJECT,
        deadline_s=deadline,
        clock=scenario.clock,
        sleep=scenario.sleep,
    )
    assert by_suffix(results)["fired"].status is Status.FAILED
    assert by_suffix(results)["fired"].expected["within_s"] == deadline
