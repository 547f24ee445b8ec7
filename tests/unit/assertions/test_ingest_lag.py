"""The live ingest-lag probe: sampling from the ledger, lag by polling, fault windows left out."""

from __future__ import annotations

from pathlib import Path

import httpx

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.jaeger import JaegerBackend
from assertions.checks.ingest_lag import IngestLagProbe, LagObservation, evaluate_ingest_lag
from assertions.result import Status
from chaosgate.request_ledger import LedgerTail
from chaosgate.vocabulary import FaultWindow
from scenarios.ledger import LedgerWriter
from tests.support.clocks import FakeClock
from tests.unit.assertions.support import entry, trace_id


def test_all_found_within_the_deadline_passes_with_the_p95() -> None:
    result = evaluate_ingest_lag(
        LagObservation(lags_s=[0.5, 1.0, 2.0], polls=4), name="traces.ingest_lag", deadline_s=30
    )
    assert result.status is Status.PASSED
    assert result.latency_s is not None and 1.0 <= result.latency_s <= 2.0


def test_a_missed_sample_fails() -> None:
    result = evaluate_ingest_lag(
        LagObservation(lags_s=[1.0], missed=["abc"]), name="logs.ingest_lag", deadline_s=30
    )
    assert result.status is Status.FAILED
    assert "1 of 2 sampled requests" in result.reason


def test_nothing_judged_is_an_error_not_a_pass() -> None:
    result = evaluate_ingest_lag(
        LagObservation(errors=["jaeger at x: refused"]), name="traces.ingest_lag", deadline_s=30
    )
    assert result.status is Status.ERROR
    assert "refused" in result.reason


def _jaeger_knowing(known: set[str]) -> JaegerBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        wanted = request.url.params.get_list("traceID")
        data = [
            {
                "traceID": t,
                "spans": [{"traceID": t, "spanID": "1", "processID": "p1", "tags": [],
                           "operationName": "GET", "startTime": 1, "references": []}],
                "processes": {"p1": {"serviceName": "gateway"}},
            }
            for t in wanted if t in known
        ]  # fmt: skip
        return httpx.Response(200, json={"data": data, "errors": None})

    return JaegerBackend(httpx.Client(transport=httpx.MockTransport(handler)), "http://jaeger.test")


def _elasticsearch_down() -> ElasticsearchBackend:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return ElasticsearchBackend(client, "http://es.test", "logs-*")


def test_probe_samples_new_ledger_lines_and_leaves_fault_windows_out(tmp_path: Path) -> None:
    clock = FakeClock(now=1000.0)
    writer = LedgerWriter(tmp_path)
    inside, outside, lost = trace_id(1), trace_id(2), trace_id(3)
    for number, started in ((1, 990.0), (2, 900.0), (3, 950.0)):
        writer.write(entry(number, started_at=started, latency_s=0.5))
    writer.close()
    probe = IngestLagProbe(
        LedgerTail(tmp_path),
        jaeger=_jaeger_knowing({inside, outside}),
        elasticsearch=_elasticsearch_down(),
        trace_id_field="trace_id",
        traces_deadline_s=30,
        logs_deadline_s=30,
        per_round=10,
        clock=clock,
    )
    probe.poll_once()  # samples all three; finds two traces; logs backend errors
    clock.now = 1090.0
    probe.poll_once()  # the third trace is now past its deadline
    traces, logs = probe.results(
        traces_deadline_s=30, logs_deadline_s=30, fault_windows=[FaultWindow(985.0, 995.0)]
    )
    assert traces.status is Status.FAILED  # the lost trace, outside any window
    assert traces.observed["sampled"] == 2
    assert traces.evidence["missed"] == [lost]
    assert traces.evidence["excluded_in_fault_windows"] == 1
    # the log store failed every poll: its ids were never seen missing, so an error, not a fail
    assert logs.status is Status.ERROR
    assert logs.observed["unobserved"] == 2 and logs.evidence["missed"] == []
    assert "elasticsearch at http://es.test/logs-*/_field_caps: ConnectError" in logs.reason
    assert "refused" in logs.evidence["errors"][0]
