"""The assertion backends and checks against the real local stack: found what was sent, and
reported missing what was never sent."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
import requests

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.jaeger import JaegerBackend
from assertions.backends.prometheus import PrometheusBackend
from assertions.backends.sink import SinkBackend
from assertions.checks.alert_watcher import AlertWatcher
from assertions.checks.logs import check_logs
from assertions.checks.traces import check_traces
from assertions.result import Status
from chaosgate.vocabulary import LedgerEntry
from tests.integration.conftest import LocalStack

pytestmark = pytest.mark.integration

DEADLINE_S = 30.0
# (method, path sent, route template as the ledger records it)
ROUTES = (
    ("GET", "/api/menu", "/api/menu"),
    ("GET", "/api/users/1", "/api/users/{id}"),
    ("GET", "/api/iot/devices", "/api/iot/devices"),
    ("GET", "/api/orders/1", "/api/orders/{id}"),
)


def made_up_entry() -> LedgerEntry:
    return LedgerEntry(
        trace_id=secrets.token_hex(16),
        span_id=secrets.token_hex(8),
        request_id=f"never-sent-{secrets.token_hex(8)}",
        scenario="Nobody",
        method="GET",
        route="/api/menu",
        status=200,
        started_at=time.time(),
        latency_s=0.01,
    )


@pytest.fixture(scope="module")
def ledger(local_stack: LocalStack) -> list[LedgerEntry]:
    """~50 requests through the gateway, each with its own traceparent and X-Request-ID."""
    entries = []
    with httpx.Client(base_url=local_stack.urls["gateway"], timeout=10.0) as gateway:
        for number in range(52):
            method, path, route = ROUTES[number % len(ROUTES)]
            trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
            request_id = f"it-backends-{secrets.token_hex(8)}"
            headers = {"traceparent": f"00-{trace_id}-{span_id}-01", "X-Request-ID": request_id}
            started = time.time()
            response = gateway.request(method, path, headers=headers)
            entries.append(
                LedgerEntry(
                    trace_id=trace_id,
                    span_id=span_id,
                    request_id=request_id,
                    scenario="IntegrationTest",
                    method=method,
                    route=route,
                    status=response.status_code,
                    started_at=started,
                    latency_s=time.time() - started,
                )
            )
    assert all(entry.status in (200, 404) for entry in entries)
    return entries


@pytest.fixture()
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as http:
        yield http


def test_every_trace_is_found_complete_in_jaeger(
    local_stack: LocalStack, ledger: list[LedgerEntry], client: httpx.Client
) -> None:
    jaeger = JaegerBackend(client, local_stack.urls["jaeger"])
    result = check_traces(ledger, backend=jaeger, deadline_s=DEADLINE_S)
    assert result.status is Status.PASSED, result.to_dict()
    assert result.observed["found"] == len(ledger)
    print(f"[figure] trace ingest lag p50/p95/max: {result.evidence['lag_s']}")
    summaries = jaeger.find_traces([entry.trace_id for entry in ledger])
    assert all(summary.has_db_span for summary in summaries.values() if "users" in summary.services)


def test_jaeger_answers_a_mixed_batch_with_only_the_traces_it_has(
    local_stack: LocalStack, ledger: list[LedgerEntry], client: httpx.Client
) -> None:
    jaeger = JaegerBackend(client, local_stack.urls["jaeger"])
    made_up = [made_up_entry().trace_id for _ in range(3)]
    check_traces(ledger[:2], backend=jaeger, deadline_s=DEADLINE_S)  # both stored by now
    found = jaeger.find_traces([ledger[0].trace_id, *made_up, ledger[1].trace_id])
    assert set(found) == {ledger[0].trace_id, ledger[1].trace_id}


def test_a_made_up_trace_id_is_reported_missing(
    local_stack: LocalStack, client: httpx.Client
) -> None:
    ghost = made_up_entry()
    jaeger = JaegerBackend(client, local_stack.urls["jaeger"])
    result = check_traces([ghost], backend=jaeger, deadline_s=3.0, poll_interval_s=1.0)
    assert result.status is Status.FAILED, result.to_dict()
    assert result.evidence["missing_ids"] == [ghost.trace_id]
    assert result.attempts >= 2


def test_every_request_left_log_lines_found_by_trace_and_request_id(
    local_stack: LocalStack, ledger: list[LedgerEntry], client: httpx.Client
) -> None:
    search = ElasticsearchBackend(client, local_stack.urls["store"], "restaurant-logs-*", {})
    by_trace = check_logs(
        ledger, backend=search, deadline_s=DEADLINE_S, field="trace_id", expect_services=True
    )
    assert by_trace.status is Status.PASSED, by_trace.to_dict()
    by_request = check_logs(
        ledger, backend=search, deadline_s=DEADLINE_S, field="request_id", id_kind="request_id"
    )
    assert by_request.status is Status.PASSED, by_request.to_dict()
    print(f"[figure] log ingest lag p50/p95/max: {by_trace.evidence['lag_s']}")
    ghost = made_up_entry()
    missing = check_logs(
        [ghost], backend=search, deadline_s=2.0, field="request_id", id_kind="request_id"
    )
    assert missing.status is Status.FAILED and missing.evidence["missing_ids"] == [ghost.request_id]


def test_metrics_alerts_and_sink_backends_answer(
    local_stack: LocalStack, ledger: list[LedgerEntry], client: httpx.Client
) -> None:
    with requests.Session() as session:
        prometheus = PrometheusBackend(session, local_stack.urls["prometheus"])
        samples = prometheus.instant('sum(http_requests_total{service="gateway"})')
        assert samples and samples[0].value >= len(ledger)
        (series,) = prometheus.range(
            'up{job="gateway"}', start=time.time() - 30, end=time.time(), step_s=5
        )
        assert series.points and series.points[-1][1] == 1.0
    assert isinstance(SinkBackend(client, local_stack.urls["sink"]).notifications(), list)
    alertmanager = AlertmanagerBackend(client, local_stack.urls["alertmanager"])
    with AlertWatcher(alertmanager, interval_s=0.2) as watcher:
        time.sleep(1.0)
    seen = watcher.observations()
    assert seen.polls >= 3 and seen.errors == ()
