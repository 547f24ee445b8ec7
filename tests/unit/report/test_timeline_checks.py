"""What the checks put on the timeline: alert lifecycles, unexpected alerts, ingest lag."""

from __future__ import annotations

import pytest

from assertions.result import CheckResult, Status
from chaosgate.report.timeline_checks import (
    alert_lifecycles,
    ingest_lags,
    number,
    unexpected_alerts,
)
from tests.unit.report.run_fixture import INJECT, START, checks

USERS_DOWN = "UsersServiceDown{service=users,severity=critical}"


def test_an_alert_that_fired_has_every_moment_against_its_deadlines() -> None:
    users_down, gateway = alert_lifecycles(checks(), START)
    assert (users_down.title, users_down.alertname) == (USERS_DOWN, "UsersServiceDown")
    assert (users_down.inject_s, users_down.deadline_s) == (30.0, 60.0)
    assert users_down.starts_s == pytest.approx(36.0)  # Prometheus' startsAt
    assert users_down.seen_s == pytest.approx(36.4)  # what the check judged
    assert users_down.pending_s is None  # this run's episodes do not record it
    assert users_down.notified_s == {"webhook": pytest.approx(37.1), "slack": pytest.approx(63.0)}
    assert (users_down.rollback_s, users_down.resolve_deadline_s) == (60.0, 120.0)
    assert users_down.resolved_s == pytest.approx(63.0)
    assert users_down.resolved_notified_s == {
        "webhook": pytest.approx(64.0),
        "slack": pytest.approx(64.2),
    }
    assert users_down.checks["notified.slack"][0] is Status.FAILED
    assert users_down.status is Status.FAILED
    # never fired: a due window and nothing in it
    assert (gateway.alertname, gateway.inject_s, gateway.deadline_s) == (
        "GatewayHighErrorRate",
        30.0,
        60.0,
    )
    assert (gateway.seen_s, gateway.starts_s, gateway.resolved_s) == (None, None, None)
    assert gateway.checks == {
        "fired": (Status.FAILED, "GatewayHighErrorRate did not fire within 30 s of inject")
    }


def test_a_title_with_dots_and_a_pending_moment_when_the_episode_has_one() -> None:
    title = "NodeDiskAlmostFull{mountpoint=~.*/chaos/disk-fill-0}"
    episode = {"starts_at": INJECT + 6, "first_seen": INJECT + 6.4, "active_at": INJECT + 1}
    fired = CheckResult(
        f"alert.{title}.fired",
        Status.ERROR,
        {"within_s": 30.0},
        {"already_firing": True},
        "was already firing",
        evidence={"inject_at": INJECT, "episode": episode},
    )
    counted = CheckResult(  # judged from Alertmanager's counters: no moment of its own
        f"alert.{title}.notified.slack",
        Status.PASSED,
        {"integration": "slack"},
        {"judged_from": "alertmanager_counters", "sent": 1.0, "failed": 0.0},
        evidence={"inject_at": INJECT, "judged_from": "alertmanager_counters"},
    )
    (life,) = alert_lifecycles([fired, counted], START)
    assert life.title == title and life.alertname == "NodeDiskAlmostFull"
    assert life.pending_s == pytest.approx(31.0)
    assert life.seen_s == pytest.approx(36.4)  # from the episode when observed has none
    assert life.notified_s == {}
    assert life.checks["notified.slack"] == (Status.PASSED, "")
    assert life.status is Status.ERROR


def test_an_alert_routed_to_no_receiver_keeps_its_failure_without_a_moment() -> None:
    unrouted = CheckResult(
        "alert.X{a=b}.notified",
        Status.FAILED,
        {"routed_to": "at least one integration"},
        {"routed_to": []},
        "X{a=b} is routed to no receiver",
        evidence={"inject_at": INJECT},
    )
    (life,) = alert_lifecycles([unrouted], START)
    assert (life.title, life.notified_s, life.status) == ("X{a=b}", {}, Status.FAILED)
    assert life.checks == {"notified": (Status.FAILED, "X{a=b} is routed to no receiver")}


def test_values_of_the_wrong_type_are_skipped_not_fatal() -> None:
    broken = CheckResult(
        "alert.X.fired",
        Status.PASSED,
        {"within_s": "30"},
        ["not", "a", "mapping"],
        evidence={"inject_at": True, "episode": "gone"},
    )
    (life,) = alert_lifecycles([broken, CheckResult("alerts.noise", Status.PASSED, 0, 0)], START)
    assert (life.inject_s, life.deadline_s, life.seen_s, life.starts_s) == (None,) * 4
    assert [number(v) for v in (1, 2.5, True, "3", float("nan"), None)] == [
        1.0,
        2.5,
        None,
        None,
        None,
        None,
    ]


def test_unexpected_alerts_from_noise_then_quality_each_episode_once() -> None:
    episode = {
        "fingerprint": "f1",
        "labels": {"alertname": "NodeHighCPU", "severity": "critical"},
        "starts_at": START + 40,
        "resolved_at": None,
    }
    muted = {**episode, "fingerprint": "f2", "labels": {"alertname": "GatewayHighLatency"}}
    noise = CheckResult(
        "alerts.noise",
        Status.FAILED,
        {},
        {},
        evidence={"alerts": [episode], "inhibited": [muted], "inhibited_delivery_unknown": []},
    )
    warning = {**episode, "fingerprint": "f3", "labels": {"alertname": "DiskWarning"}}
    quality = CheckResult(
        "alerts.quality",
        Status.PASSED,
        {},
        {},
        evidence={"unexpected": [episode, warning, {"labels": "bad"}]},
    )
    found = unexpected_alerts([quality, noise], START)
    assert [(a.alertname, a.kind, a.check) for a in found] == [
        ("NodeHighCPU", "paged", "alerts.noise"),
        ("GatewayHighLatency", "inhibited", "alerts.noise"),
        ("DiskWarning", "in a fault window", "alerts.quality"),
    ]
    assert (found[0].start_s, found[0].end_s) == (40.0, None)


def test_ingest_lag_levels_and_samples_when_the_evidence_lists_them() -> None:
    samples = [
        {"key": "b", "ended": START + 20, "lag_s": 2.0},
        {"key": "a", "ended": START + 10, "lag_s": 1.0},
        {"key": "c", "ended": START + 30, "lag_s": None, "unobserved": True},
    ]
    traces = CheckResult(
        "traces.ingest_lag",
        Status.PASSED,
        {"found_within_s": 30.0},
        {"lag_s": {"p50": 1.5, "p95": 1.95, "max": 2.0}},
        evidence={"samples": samples},
    )
    logs = next(check for check in checks() if check.name == "logs.ingest_lag")
    traces_lag, logs_lag = ingest_lags([logs, traces], START)  # traces first, whatever order
    assert (traces_lag.backend, traces_lag.deadline_s) == ("traces", 30.0)
    assert (traces_lag.p50_s, traces_lag.p95_s, traces_lag.max_s) == (1.5, 1.95, 2.0)
    assert traces_lag.samples == ((10.0, 1.0), (20.0, 2.0))  # in time order, unfound left out
    assert (logs_lag.backend, logs_lag.status, logs_lag.samples) == ("logs", Status.FAILED, ())
    assert ingest_lags([], START) == []
