"""``alerts.inhibition``: raised, listed inhibited by the source, and never notified."""

from __future__ import annotations

from assertions.backends.sink import Notification
from assertions.checks.alert_inhibition import ExpectedInhibition, evaluate_inhibition
from assertions.checks.alert_watcher import AlertEpisode
from assertions.result import Status
from chaosgate.vocabulary import ExpectedAlert
from tests.unit.assertions.alert_support import INJECT, watched

LATENCY = ExpectedAlert("GatewayHighLatency", {"service": "gateway"}, deadline_s=30.0)
POOL_LATENCY = ExpectedInhibition(LATENCY, "DatabasePoolExhausted", INJECT, until=1060.0)


def alert(
    name: str, fingerprint: str, first_seen: float, *inhibitors: str, **labels: str
) -> AlertEpisode:
    return AlertEpisode(
        fingerprint=fingerprint,
        labels={"alertname": name, "severity": "critical", **labels},
        starts_at=first_seen - 0.5,
        first_seen=first_seen,
        last_seen=first_seen + 20,
        ends_at=None,
        state="suppressed" if inhibitors else "active",
        inhibited_by=inhibitors,
        suppressed_polls=10 if inhibitors else 0,
        active_polls=0 if inhibitors else 10,
    )


SOURCE = alert("DatabasePoolExhausted", "src", 1007.0, service="orders")
INHIBITED = alert("GatewayHighLatency", "tgt", 1012.0, "src", service="gateway")


def latency_note(at: float, status: str = "firing") -> Notification:
    labels = {"alertname": "GatewayHighLatency", "service": "gateway"}
    return Notification(at, {"status": status, "alerts": [{"status": status, "labels": labels}]})


def test_an_inhibited_alert_that_reached_nobody_passes() -> None:
    source_note = Notification(
        1008.0,
        {"status": "firing", "alerts": [{"status": "firing", "labels": dict(SOURCE.labels)}]},
    )
    result = evaluate_inhibition(watched(SOURCE, INHIBITED), [POOL_LATENCY], [source_note])
    assert result.passed and result.name == "alerts.inhibition"
    assert result.observed == {"expectations": 1, "inhibited": 1, "failed": [], "errors": []}
    (evidence,) = result.evidence["expectations"]
    assert evidence["alert"] == "GatewayHighLatency{service=gateway}"
    assert evidence["episodes"][0]["inhibited_by"] == ["src"]
    assert evidence["episodes"][0]["suppressed_polls"] == 10
    assert result.expected == [
        {
            "alert": "GatewayHighLatency{service=gateway}",
            "inhibited_by": "DatabasePoolExhausted",
            "raised_within_s": 30.0,
            "no_notification_until_s": 60.0,
        }
    ]


def test_never_raised_fails_in_a_watched_window() -> None:
    result = evaluate_inhibition(watched(SOURCE), [POOL_LATENCY], [])
    assert result.status is Status.FAILED
    assert "GatewayHighLatency{service=gateway} was never raised within 30 s of inject" in (
        result.reason
    )
    late = alert("GatewayHighLatency", "tgt", 1031.0, "src", service="gateway")
    assert evaluate_inhibition(watched(SOURCE, late), [POOL_LATENCY], []).status is Status.FAILED


def test_never_raised_in_an_unwatched_window_is_an_error() -> None:
    stopped = watched(SOURCE, last=1010.0, errors=((1011.0, "alertmanager at x: timed out"),))
    result = evaluate_inhibition(stopped, [POOL_LATENCY], [])
    assert result.status is Status.ERROR and "timed out" in result.reason
    assert result.observed["errors"] == ["GatewayHighLatency{service=gateway}"]


def test_not_inhibited_by_the_source_fails() -> None:
    active = alert("GatewayHighLatency", "tgt", 1012.0, service="gateway")
    result = evaluate_inhibition(watched(SOURCE, active), [POOL_LATENCY], [])
    assert result.status is Status.FAILED
    assert result.reason == (
        "GatewayHighLatency{service=gateway} was not inhibited by DatabasePoolExhausted: "
        "alertmanager listed it inhibited by nothing (10 polls saw it active)"
    )
    other = alert("NodeHighCPU", "cpu", 1005.0, component="node")
    by_cpu = alert("GatewayHighLatency", "tgt", 1012.0, "cpu", service="gateway")
    result = evaluate_inhibition(watched(SOURCE, other, by_cpu), [POOL_LATENCY], [])
    assert result.status is Status.FAILED and "inhibited by cpu" in result.reason


def test_a_notification_of_the_inhibited_alert_fails_naming_the_receiver() -> None:
    seen = watched(SOURCE, INHIBITED)
    leaked = evaluate_inhibition(seen, [POOL_LATENCY], [latency_note(1013.5)])
    assert leaked.status is Status.FAILED
    assert "reached webhook 13.5 s after inject although" in leaked.reason
    assert leaked.evidence["expectations"][0]["notifications"][0]["received_at"] == 1013.5
    slack = Notification(
        1014.0,
        {"attachments": []},
        receiver="slack",
        title="[FIRING:1] GatewayHighLatency gateway (critical)",
    )
    leaked = evaluate_inhibition(seen, [POOL_LATENCY], [slack])
    assert leaked.status is Status.FAILED and "reached slack 14.0 s" in leaked.reason
    harmless = [latency_note(1070.0), latency_note(1013.0, "resolved"), latency_note(990.0)]
    assert evaluate_inhibition(seen, [POOL_LATENCY], harmless).passed


def test_an_unreadable_sink_is_an_error_unless_something_else_failed() -> None:
    seen = watched(SOURCE, INHIBITED)
    result = evaluate_inhibition(seen, [POOL_LATENCY], [], sink_error="sink at x: HTTP 502")
    assert result.status is Status.ERROR and "HTTP 502" in result.reason


def test_a_broken_promise_outranks_an_unobserved_one() -> None:
    down = ExpectedInhibition(
        ExpectedAlert("UsersServiceDown", {"service": "users"}), "NodeDown", INJECT, 1060.0
    )
    gaps = watched(SOURCE, errors=((1010.0, "alertmanager at x: HTTP 503"),))
    gaps_only = evaluate_inhibition(gaps, [down], [])  # never raised, a poll failed meanwhile
    assert gaps_only.status is Status.ERROR and "1 alertmanager polls failed" in gaps_only.reason
    active = alert("GatewayHighLatency", "tgt", 1012.0, service="gateway")
    mixed = evaluate_inhibition(
        watched(SOURCE, active, errors=((1010.0, "x"),)), [POOL_LATENCY, down], []
    )
    assert mixed.status is Status.FAILED
    assert mixed.observed["failed"] == ["GatewayHighLatency{service=gateway}"]
    assert mixed.observed["errors"] == ["UsersServiceDown{service=users}"]
    assert len(mixed.evidence["expectations"]) == 2


def test_no_expected_inhibition_passes_with_a_note() -> None:
    result = evaluate_inhibition(watched(), [], [])
    assert result.passed
    assert result.observed["note"] == "no experiment of the run expects an inhibition"
