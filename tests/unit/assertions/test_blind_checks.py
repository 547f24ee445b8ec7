"""Checks that depend on a backend that failed are errors naming it, never passes, and a
hanging backend costs a check its deadline plus one request timeout, not a timeout per batch,
per retry or per poll. The timing tests use real loopback servers (pytest-httpserver, a
socket that accepts and never answers) and real clients with short timeouts.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import requests
from pytest_httpserver import HTTPServer

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.jaeger import JaegerBackend
from assertions.backends.prometheus import AlertRule, PrometheusBackend
from assertions.backends.sink import SinkBackend
from assertions.checks.alert_coverage import evaluate_coverage, rule_outcomes
from assertions.checks.alert_dedup import evaluate_dedup
from assertions.checks.alert_grouping import evaluate_grouping
from assertions.checks.alert_noise import evaluate_noise
from assertions.checks.alert_quality import QualityExpectation, evaluate_quality
from assertions.checks.alert_watcher import AlertObservations, AlertWatcher
from assertions.checks.alerts import check_expected_alert, evaluate_expected_alert
from assertions.checks.ingest_lag import IngestLagProbe
from assertions.checks.slo import SloExpected, check_prometheus_slo
from assertions.checks.traces import check_traces
from assertions.result import CheckResult, Status
from chaosgate.request_ledger import LedgerTail
from chaosgate.vocabulary import FaultWindow, SloBounds
from scenarios.ledger import LedgerWriter
from tests.support.clocks import FakeClock
from tests.support.servers import closed_port_url, hanging_server_url
from tests.unit.assertions.alert_support import (
    AM,
    DOWN,
    INJECT,
    FakeAlertmanager,
    by_suffix,
    down_alert,
    episode,
    titled,
    watcher_for,
)
from tests.unit.assertions.support import entry

AM_SOURCE = f"alertmanager at {AM}/api/v2/alerts"
TIMEOUT_S = 0.3
RUN = (990.0, 1100.0)


def _observations(
    *episodes: object, gaps: tuple[tuple[float, float | None], ...] = (), last: float = 1100.0
) -> AlertObservations:
    errors = tuple((start + 0.5, f"{AM_SOURCE}: timed out (ReadTimeout)") for start, _ in gaps)
    return AlertObservations(
        tuple(episodes),  # type: ignore[arg-type]
        first_poll_at=990.0,
        last_poll_at=last,
        polls=100,
        errors=errors,
        gaps=gaps,
        source=AM_SOURCE,
    )


def test_the_watcher_records_each_stretch_of_failed_polls_as_a_gap() -> None:
    fake, clock = FakeAlertmanager(), FakeClock(now=100.0)
    watcher = watcher_for(fake, clock)
    watcher.poll_once()
    fake.failure, clock.now = 503, 101.0
    watcher.poll_once()
    clock.now = 111.0
    watcher.poll_once()
    fake.failure, clock.now = None, 112.0
    watcher.poll_once()
    fake.failure, clock.now = 503, 113.0
    watcher.poll_once()  # still failing at the snapshot: an open gap
    seen = watcher.observations()
    assert seen.gaps == ((100.0, 112.0), (112.0, None))
    assert seen.source == AM_SOURCE
    assert seen.longest_gap_within(105.0, 112.5) == (7.0, 100.0, 112.0)
    assert seen.longest_gap_within(90.0, 200.0)[0] == 88.0  # the open one runs to the end


def test_noise_is_an_error_when_the_watcher_was_blind_inside_the_window() -> None:
    # successful polls at both ends, but Alertmanager hung for 12 s in the middle
    blind = _observations(gaps=((1040.0, 1052.0),))
    result = evaluate_noise(blind, [DOWN], RUN, notifications=[])
    assert result.status is Status.ERROR
    assert f"{AM_SOURCE} could not be polled for 12.0 s inside the window" in result.reason
    assert "timed out" in result.reason
    # a short stretch (one failed poll) is not blindness
    assert evaluate_noise(_observations(gaps=((1040.0, 1041.0),)), [DOWN], RUN).passed


def test_noise_names_alertmanager_when_the_watcher_stopped_seeing_it() -> None:
    stopped = _observations(gaps=((1030.0, None),), last=1030.0)
    result = evaluate_noise(stopped, [DOWN], RUN, notifications=[])
    assert result.status is Status.ERROR
    assert f"the watcher did not observe {AM_SOURCE} over the whole window" in result.reason
    assert "timed out (ReadTimeout)" in result.reason


def test_quality_is_an_error_when_recall_falls_short_only_through_unobserved_firings() -> None:
    window = FaultWindow(1000.0, 1030.0, "kill-users-service")
    unknown = [QualityExpectation("kill-users-service", DOWN, unobserved=True)]
    result = evaluate_quality(_observations(), unknown, [window], min_recall=1.0, min_precision=0)
    assert result.status is Status.ERROR
    assert "only through alerts whose firing could not be observed" in result.reason
    missed = [QualityExpectation("kill-users-service", DOWN)]  # observed, and it did not fire
    assert evaluate_quality(
        _observations(), missed, [window], min_recall=1.0, min_precision=0
    ).status is (Status.FAILED)


def test_quality_is_an_error_when_a_fault_window_was_not_watched() -> None:
    window = FaultWindow(1000.0, 1030.0, "kill-users-service")
    fired = [QualityExpectation("kill-users-service", DOWN, fired_in_time=True)]
    blind = _observations(episode(1005.0, 1005.5), gaps=((1010.0, 1025.0),))
    result = evaluate_quality(blind, fired, [window], min_recall=1.0, min_precision=1.0)
    assert result.status is Status.ERROR
    assert "kill-users-service" in result.reason and AM_SOURCE in result.reason


def _rule(name: str) -> AlertRule:
    return AlertRule(name, "g", {"severity": "critical"}, "up == 0", "ok", "rules.yml")


def test_coverage_of_every_rule_fails_when_prometheus_has_none_loaded() -> None:
    result = evaluate_coverage([], {}, {}, "all")
    assert result.status is Status.FAILED
    assert "prometheus reports no alerting rule loaded" in result.reason


def test_coverage_is_an_error_when_only_errors_keep_a_rule_from_proof() -> None:
    title = DOWN.title
    sink_down = "sink at http://sink.test/notifications: HTTP 503: 'down'"
    checks = [
        CheckResult(f"alert.{title}.fired", Status.PASSED, None, None),
        CheckResult(f"alert.{title}.notified.webhook", Status.ERROR, None, None, sink_down),
        CheckResult(f"alert.{title}.resolved", Status.PASSED, None, None),
    ]
    outcomes = rule_outcomes(checks, [DOWN])
    named = {"UsersServiceDown": ["kill-users-service"]}
    result = evaluate_coverage([_rule("UsersServiceDown")], named, outcomes, "all")
    assert result.status is Status.ERROR and sink_down in result.reason
    failed = [*checks[:1], CheckResult(f"alert.{title}.resolved", Status.FAILED, None, None)]
    failed.append(checks[1])
    outcomes = rule_outcomes(failed, [DOWN])
    assert evaluate_coverage([_rule("UsersServiceDown")], named, outcomes, "all").status is (
        Status.FAILED
    )


def test_grouping_of_text_receivers_is_an_error_when_the_run_was_not_watched() -> None:
    notes = [titled(1002.0, "[FIRING:1] UsersServiceDown users (critical)")]
    blind = _observations(episode(1000.0, 1000.5), gaps=((1020.0, None),), last=1020.0)
    result = evaluate_grouping(notes, ("alertname", "service"), 2.0, observations=blind, window=RUN)
    assert result.status is Status.ERROR and AM_SOURCE in result.reason
    watched = _observations(episode(1000.0, 1000.5))
    assert evaluate_grouping(
        notes, ("alertname", "service"), 2.0, observations=watched, window=RUN
    ).passed


def test_a_repeat_across_a_blind_stretch_is_undecided_not_a_pass_or_a_duplicate() -> None:
    title = "[FIRING:1] UsersServiceDown users (critical)"
    notes = [titled(1010.0, title), titled(1060.0, title)]
    assert evaluate_dedup(notes, 3600.0, 10.0, 2.0).status is Status.FAILED  # no watcher
    blind = _observations(gaps=((1020.0, 1040.0),))
    result = evaluate_dedup(notes, 3600.0, 10.0, 2.0, observations=blind)
    assert result.status is Status.ERROR
    assert result.observed["undecided"] == 1 and result.observed["duplicates"] == 0
    assert AM_SOURCE in result.reason


def test_a_late_sighting_after_failed_polls_is_an_error_not_a_late_alert() -> None:
    late = episode(INJECT + 5.0, INJECT + 40.0)  # first seen 40 s after inject, deadline 30 s
    blind = _observations(late, gaps=((INJECT + 3.0, INJECT + 40.0),))
    fired = by_suffix(evaluate_expected_alert(blind, DOWN, INJECT, None, []))["fired"]
    assert fired.status is Status.ERROR
    assert "may have fired in time unseen" in fired.reason and AM_SOURCE in fired.reason
    seen = _observations(late)
    fired = by_suffix(evaluate_expected_alert(seen, DOWN, INJECT, None, []))["fired"]
    assert fired.status is Status.FAILED


def test_resolved_names_alertmanager_and_its_error_when_polling_stopped_working() -> None:
    firing = episode(INJECT + 5.0, INJECT + 6.0)
    stopped = _observations(firing, gaps=((INJECT + 10.0, None),), last=INJECT + 10.0)
    resolved = by_suffix(evaluate_expected_alert(stopped, DOWN, INJECT, INJECT + 20.0, []))[
        "resolved"
    ]
    assert resolved.status is Status.ERROR
    assert f"{AM_SOURCE} could not be polled after that" in resolved.reason
    assert "timed out (ReadTimeout)" in resolved.reason


def test_trace_polling_against_a_hanging_jaeger_stops_at_the_deadline_not_after_every_batch() -> (
    None
):
    entries = [entry(number) for number in range(1, 7)]  # six batches of one id
    with hanging_server_url() as base, httpx.Client(timeout=TIMEOUT_S) as client:
        started = time.monotonic()
        result = check_traces(
            entries, backend=JaegerBackend(client, base), deadline_s=0.5, batch_size=1
        )
        took = time.monotonic() - started
    assert result.status is Status.ERROR
    assert f"then the backend failed: jaeger at {base}/api/traces: timed out" in result.reason
    assert result.evidence["backend_failed"] is True
    # the deadline, then the batch in flight: two timeouts, not six
    assert result.attempts == 2 and took < 0.5 + 2 * TIMEOUT_S, (result.attempts, took)


def test_prometheus_slo_retries_until_its_deadline_and_no_longer(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v1/query").respond_with_data("overloaded", status=503)
    expected = SloExpected(outside=SloBounds(max_error_ratio=0.01))
    with requests.Session() as session:
        backend = PrometheusBackend(session, httpserver.url_for("/").rstrip("/"))
        started = time.monotonic()
        (result,) = check_prometheus_slo(
            [], expected, backend=backend, start=0.0, end=1.0, deadline_s=1.0,
            retry_interval_s=0.2,
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.status is Status.ERROR and result.evidence["backend_failed"] is True
    assert "prometheus could not be read within 1 s: prometheus at http" in result.reason
    assert "HTTP Status Code 503" in result.reason
    assert 1.0 <= took < 1.6 and 4 <= result.attempts <= 7, (took, result.attempts)


def test_prometheus_slo_against_a_hanging_prometheus_costs_one_timeout_past_the_deadline() -> None:
    expected = SloExpected(outside=SloBounds(max_error_ratio=0.01))
    with hanging_server_url() as base, requests.Session() as session:
        backend = PrometheusBackend(session, base, timeout_s=TIMEOUT_S)
        started = time.monotonic()
        (result,) = check_prometheus_slo(
            [], expected, backend=backend, start=0.0, end=1.0, deadline_s=0.5,
            retry_interval_s=0.05,
        )  # fmt: skip
        took = time.monotonic() - started
    assert result.status is Status.ERROR and "timed out" in result.reason
    assert took < 0.5 + 2 * TIMEOUT_S, took
    with requests.Session() as session:  # deadline 0: one attempt
        backend = PrometheusBackend(session, closed_port_url(), timeout_s=TIMEOUT_S)
        (once,) = check_prometheus_slo(
            [], expected, backend=backend, start=0.0, end=1.0, deadline_s=0.0
        )
    assert once.status is Status.ERROR and once.attempts == 1 and "ConnectionError" in once.reason


def test_an_expected_alert_past_its_horizon_reads_a_hanging_sink_once() -> None:
    fake, clock = FakeAlertmanager(), FakeClock(now=INJECT + 200.0)
    fake.alerts = [down_alert(INJECT + 5.0)]
    watcher = watcher_for(fake, clock)
    watcher.poll_once()
    with hanging_server_url() as base, httpx.Client(timeout=TIMEOUT_S) as client:
        started = time.monotonic()
        results = by_suffix(
            check_expected_alert(
                watcher, DOWN, backend=SinkBackend(client, base), inject_at=INJECT, clock=clock
            )
        )
        took = time.monotonic() - started
    notified = results["notified.webhook"]
    assert notified.status is Status.ERROR
    assert notified.reason.startswith(f"sink at {base}/notifications: timed out")
    assert notified.attempts == 1 and took < 2 * TIMEOUT_S, took


def test_a_watcher_of_a_hanging_alertmanager_records_timeouts_not_resolutions() -> None:
    with hanging_server_url() as base, httpx.Client(timeout=TIMEOUT_S) as client:
        clock = FakeClock(now=100.0)
        watcher = AlertWatcher(AlertmanagerBackend(client, base), clock=clock)
        watcher.poll_once()
    seen = watcher.observations()
    assert seen.first_poll_at is None and seen.episodes == ()
    assert seen.gaps == ((100.0, None),)
    assert seen.errors[0][1].startswith(f"alertmanager at {base}/api/v2/alerts: timed out")


def test_the_ingest_probe_drains_after_its_thread_left_a_hanging_poll(tmp_path: Path) -> None:
    writer = LedgerWriter(tmp_path)
    writer.write(entry(1, started_at=time.time(), latency_s=0.01))
    writer.close()
    with hanging_server_url() as base, httpx.Client(timeout=TIMEOUT_S) as client:
        probe = IngestLagProbe(
            LedgerTail(tmp_path),
            jaeger=JaegerBackend(client, base),
            elasticsearch=ElasticsearchBackend(client, base, "logs-*"),
            trace_id_field="trace_id",
            traces_deadline_s=0.5,
            logs_deadline_s=0.5,
            interval_s=0.05,
        ).start()
        time.sleep(0.1)  # the thread is waiting on the hanging backend now
        probe.stop(timeout_s=0.01)  # gives up waiting for it, as a run's stop may
        started = time.monotonic()
        probe.drain()
        took = time.monotonic() - started
    traces, logs = probe.results(traces_deadline_s=0.5, logs_deadline_s=0.5)
    for result, name in ((traces, "jaeger"), (logs, "elasticsearch")):
        assert result.status is Status.ERROR, result
        assert f"the backend failed: {name} at {base}" in result.reason
        assert "timed out" in result.reason
    assert took < 0.5 + 4 * TIMEOUT_S, took
