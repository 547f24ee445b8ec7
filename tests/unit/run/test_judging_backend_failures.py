"""The runner's judging with backends that fail in the check phase: every check that needs a
failing backend is an error naming it (and its URL), the others are unaffected, nothing
raises, and a hanging backend is waited for once per phase. Real loopback servers
(pytest-httpserver, a closed port, a socket that never answers); Alertmanager's alerts come
through a MockTransport, the only fake, at the transport.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
from pytest_httpserver import HTTPServer

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.prometheus import AlertRule
from assertions.checks.alert_watcher import AlertWatcher
from assertions.checks.warmup import WarmupBackends
from assertions.result import CheckResult, Status
from chaosgate.http_clients import new_http_client
from chaosgate.run.alert_judging import AlertingSetup, experiment_checks, run_alert_checks
from chaosgate.run.backends import build_backends
from chaosgate.run.chaos_phase import ExperimentRun
from chaosgate.run.judging import completeness_checks, judged, slo_checks
from chaosgate.run.profiles import Profile
from chaosgate.target import (
    Target,
)
from chaosgate.vocabulary import FaultWindow
from tests.support.clocks import FakeClock
from tests.support.servers import closed_port_url, hanging_server_url
from tests.unit.assertions.alert_support import (
    AM,
    DOWN,
    INJECT,
    FakeAlertmanager,
    down_alert,
)
from tests.unit.assertions.support import Recorder, entry
from tests.unit.run.plans import smoke_plan, target_at

TIMEOUT_S = 0.3
DEADLINE_S = 0.3
PROMETHEUS_DEADLINE_S = 0.3  # retried at 1 s: one retry, at the deadline
CONFIG = {
    "route": {
        "receiver": "team-slack",
        "group_by": ["alertname", "service"],
        "group_wait": "1s",
        "repeat_interval": "1h",
        "routes": [{"receiver": "oncall", "matchers": ['severity="critical"']}],
    },
    "receivers": [
        {"name": "team-slack", "slack_configs": [{"api_url": "http://127.0.0.1:9/slack"}]},
        {
            "name": "oncall",
            "slack_configs": [{"api_url": "http://127.0.0.1:9/slack"}],
            "email_configs": [{"to": "oncall@restaurant.example"}],
            "webhook_configs": [{"url": "http://127.0.0.1:9/alerts"}],
        },
    ],
}
RULES = (AlertRule("UsersServiceDown", "g", {"severity": "critical"}, "up == 0", "ok", "r.yml"),)


def _target(jaeger: str, es: str, prometheus: str, alertmanager: str, sink: str) -> Target:
    return target_at(jaeger, es, prometheus, alertmanager, sink, deadline_s=DEADLINE_S)


@pytest.fixture
def clients() -> Iterator[tuple[httpx.Client, requests.Session]]:
    with new_http_client(TIMEOUT_S) as http, requests.Session() as session:
        yield http, session


def _by_name(checks: list[CheckResult]) -> dict[str, CheckResult]:
    return {check.name: check for check in checks}


ENTRIES = [entry(n, started_at=1000.0 + n) for n in range(1, 9)]  # 1001..1008
WINDOWS = [FaultWindow(1004.5, 1006.0, "kill-users-service")]


def test_completeness_names_each_failing_backend_and_waits_for_a_hanging_one_once(
    httpserver: HTTPServer, clients: tuple[httpx.Client, requests.Session], tmp_path: Path
) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_data("overloaded", status=503)
    es = httpserver.url_for("/").rstrip("/")
    http, session = clients
    with hanging_server_url() as jaeger:
        target = _target(jaeger, es, es, es, es)
        backends = build_backends(target, http, http, session)
        started = time.monotonic()
        plan = smoke_plan(target, tmp_path)
        checks = _by_name(completeness_checks(plan, ENTRIES, WINDOWS, backends))
        took = time.monotonic() - started
    traces, in_faults = checks["traces.completeness"], checks["traces.completeness.in_faults"]
    logs = checks["logs.trace_id.completeness"]
    assert [c.status for c in checks.values()] == [Status.ERROR] * 3
    assert f"the backend failed: jaeger at {jaeger}/api/traces: timed out" in traces.reason
    assert in_faults.reason.startswith("not polled: the backend was still failing when ")
    assert f"jaeger at {jaeger}/api/traces: timed out" in in_faults.reason
    assert f"elasticsearch at {es}/restaurant-logs-*/_field_caps: HTTP 503" in logs.reason
    # Jaeger: its deadline and the request in flight, once; logs: their deadline
    assert took < 2 * DEADLINE_S + 2 * TIMEOUT_S + 0.5, took


def test_prometheus_slo_is_waited_for_once_and_the_ledger_judgements_are_unaffected(
    httpserver: HTTPServer, clients: tuple[httpx.Client, requests.Session], tmp_path: Path
) -> None:
    httpserver.expect_request(re.compile(".*")).respond_with_data("overloaded", status=503)
    url = httpserver.url_for("/").rstrip("/")
    http, session = clients
    target = _target(url, url, url, url, url)
    backends = build_backends(target, http, http, session)
    kept = frozenset({"kill-users-service"})  # a third judgement: the kept window alone
    started = time.monotonic()
    checks = slo_checks(
        smoke_plan(target, tmp_path), ENTRIES, WINDOWS, backends, 1000.0, 1009.0, kept,
        prometheus_deadline_s=PROMETHEUS_DEADLINE_S,
    )  # fmt: skip
    took = time.monotonic() - started
    prometheus = [c for c in checks if c.name.startswith("slo.prometheus.")]
    ledger = [c for c in checks if c.name.startswith("slo.ledger.")]
    assert {c.status for c in prometheus} == {Status.ERROR} and len(prometheus) == 2
    for check in prometheus:
        assert f"prometheus at {url}/api/v1/query: HTTP Status Code 503" in check.reason
    assert prometheus[0].attempts > 1 and prometheus[1].attempts == 1  # waited for once
    assert all(c.status is not Status.ERROR for c in ledger) and len(ledger) == 2
    assert took < PROMETHEUS_DEADLINE_S + 1.0, took


def _run(tmp_path: Path) -> ExperimentRun:
    return ExperimentRun(
        path=tmp_path / "kill-users-service.json",
        title="kill users",
        expected=(DOWN,),
        resolve_deadline_s=60.0,
        journal_path=tmp_path / "journal.json",
        inject_at=INJECT,
        rollback_at=INJECT + 20.0,
        status="completed",
    )


def _watcher_that_saw_the_alert_and_then_lost_alertmanager() -> AlertWatcher:
    fake, clock = FakeAlertmanager(), FakeClock(now=INJECT - 10.0)
    watcher = AlertWatcher(AlertmanagerBackend(Recorder(fake).client(), AM), clock=clock)
    watcher.poll_once()
    fake.alerts, clock.now = [down_alert(INJECT + 5.0)], INJECT + 6.0
    watcher.poll_once()
    clock.now = INJECT + 22.0  # still firing after the rollback (INJECT + 20)
    watcher.poll_once()
    fake.failure, clock.now = 503, INJECT + 25.0  # Alertmanager fails from here on
    watcher.poll_once()
    return watcher


def test_a_hanging_sink_past_the_horizon_is_read_once_and_only_notified_checks_error(
    clients: tuple[httpx.Client, requests.Session], tmp_path: Path
) -> None:
    http, session = clients
    watcher = _watcher_that_saw_the_alert_and_then_lost_alertmanager()
    closed = closed_port_url()
    with hanging_server_url() as sink:
        backends = build_backends(
            _target(closed, closed, closed, closed, sink), http, http, session
        )
        started = time.monotonic()
        checks = _by_name(
            experiment_checks(
                _run(tmp_path), watcher, backends, AlertingSetup(CONFIG, RULES),
                ("webhook", "slack", "email"),
            )
        )  # fmt: skip
        took = time.monotonic() - started
    title = DOWN.title
    assert checks["chaos.kill-users-service"].passed
    assert checks[f"alert.{title}.fired"].passed  # seen before Alertmanager failed
    for integration in ("webhook", "slack", "email"):
        notified = checks[f"alert.{title}.notified.{integration}"]
        assert notified.status is Status.ERROR
        assert notified.reason.startswith(f"sink at {sink}/notifications: timed out")
    resolved = checks[f"alert.{title}.resolved"]
    assert resolved.status is Status.ERROR
    assert f"alertmanager at {AM}/api/v2/alerts could not be polled after that" in resolved.reason
    assert "HTTP 503" in resolved.reason
    assert took < 2 * TIMEOUT_S + 0.3, took


def _run_level(backends: WarmupBackends, watcher: AlertWatcher, tmp_path: Path) -> list[str]:
    run = _run(tmp_path)
    window = FaultWindow(INJECT, INJECT + 20.0, "kill-users-service")
    passed = [CheckResult(f"alert.{DOWN.title}.fired", Status.PASSED, None, None)]
    profile = Profile("smoke", duration_s=40, users=1, spawn_rate=1.0, experiments=())
    results = run_alert_checks(
        [run], passed, watcher, backends, AlertingSetup(CONFIG, RULES), profile, [window],
        (INJECT - 10.0, INJECT + 100.0),
    )  # fmt: skip
    return [f"{r.name} {r.status.value}: {r.reason}" for r in results]


def test_run_level_checks_with_the_sink_and_alertmanager_down_are_errors_naming_them(
    clients: tuple[httpx.Client, requests.Session], tmp_path: Path
) -> None:
    http, session = clients
    sink = closed_port_url()
    backends = build_backends(_target(sink, sink, sink, AM, sink), http, http, session)
    lines = _run_level(backends, _watcher_that_saw_the_alert_and_then_lost_alertmanager(), tmp_path)
    by_name = {line.split(" ")[0]: line for line in lines}
    assert by_name["alerts.noise"].startswith("alerts.noise error: the watcher did not observe ")
    assert f"alertmanager at {AM}/api/v2/alerts" in by_name["alerts.noise"]
    for name in ("alerts.grouping", "alerts.dedup"):
        assert by_name[name].startswith(f"{name} error: sink at {sink}/notifications: Connect")
    # decided before Alertmanager failed (the fault window is over): unaffected
    assert by_name["alerts.quality"].startswith("alerts.quality passed"), by_name
    assert by_name["alerts.coverage"].startswith("alerts.coverage passed"), by_name  # rules read


def test_a_notification_the_checks_cannot_read_is_an_error_and_the_run_goes_on(
    httpserver: HTTPServer, clients: tuple[httpx.Client, requests.Session], tmp_path: Path
) -> None:
    """A sink record whose webhook payload carries ``alerts`` that is not a list is a malformed
    answer of the sink: the checks that read it are errors naming the sink, and the run goes
    on."""
    payload = {"status": "firing", "groupKey": "k", "groupLabels": {}, "alerts": 5}
    odd = {"received_at_unix": INJECT + 7.0, "receiver": "webhook", "payload": payload}
    httpserver.expect_request("/notifications").respond_with_json({"notifications": [odd]})
    http, session = clients
    sink = httpserver.url_for("/").rstrip("/")
    backends = build_backends(_target(sink, sink, sink, AM, sink), http, http, session)
    lines = _run_level(backends, _watcher_that_saw_the_alert_and_then_lost_alertmanager(), tmp_path)
    grouping = next(line for line in lines if line.startswith("alerts.grouping"))
    assert grouping.startswith(f"alerts.grouping error: sink at {sink}/notifications: malformed")
    assert "'alerts' is not a list" in grouping


def test_judged_turns_an_exception_into_one_error_per_name() -> None:
    def broken() -> list[CheckResult]:
        raise KeyError("alerts")

    results = judged(["alerts.grouping", "alerts.dedup"], broken)
    assert [(r.name, r.status) for r in results] == [
        ("alerts.grouping", Status.ERROR),
        ("alerts.dedup", Status.ERROR),
    ]
    assert "KeyError: 'alerts'" in results[0].reason
