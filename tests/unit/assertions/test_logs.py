"""check_logs against a fake Elasticsearch behind httpx.MockTransport, with a fake clock."""

from __future__ import annotations

import math
from typing import Any

import httpx

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.checks.completeness import CompletenessExpected, CompletenessObservation
from assertions.checks.logs import IdKind, check_logs, evaluate_logs, log_expectations
from assertions.result import Status
from chaosgate.vocabulary import LedgerEntry
from tests.support.clocks import FakeClock
from tests.unit.assertions.fake_backends import FakeElasticsearch
from tests.unit.assertions.support import Recorder, entry, failing

URL = "http://es.test:9200"


def lines(item: LedgerEntry, *services: str) -> list[dict[str, Any]]:
    return [
        {
            "trace_id": item.trace_id,
            "request_id": item.request_id,
            "service": service,
            "@timestamp": "x",
            "@timestamp_ms": item.started_at * 1000,
        }
        for service in services
    ]


def es(recorder: Recorder) -> ElasticsearchBackend:
    return ElasticsearchBackend(recorder.client(), URL, "restaurant-logs-*", {})


def test_found_by_trace_id_and_by_request_id() -> None:
    entries = [entry(n) for n in range(1, 4)]
    fake = FakeElasticsearch([doc for e in entries for doc in lines(e, "gateway", "orders")])
    clock = FakeClock(now=1001.1)
    kinds: tuple[tuple[str, IdKind], ...] = (("trace_id", "trace_id"), ("request_id", "request_id"))
    for field, kind in kinds:
        result = check_logs(
            entries,
            backend=es(Recorder(fake)),
            deadline_s=10,
            field=field,
            id_kind=kind,
            clock=clock,
            sleep=clock.sleep,
        )
        assert result.passed, result.reason
        assert result.name == f"logs.{kind}.completeness"
        assert result.evidence["lag_s"]["max"] == 1.0
        assert result.evidence["sample"]["field"] == field


def test_missing_lines_fail_at_the_deadline() -> None:
    entries = [entry(1), entry(2)]
    recorder = Recorder(FakeElasticsearch(lines(entries[0], "gateway")))
    clock = FakeClock()
    result = check_logs(
        entries,
        backend=es(recorder),
        deadline_s=3,
        field="trace_id",
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.status is Status.FAILED
    assert result.evidence["missing_ids"] == [entries[1].trace_id]
    assert clock.now == 1003.0


def test_services_can_be_required() -> None:
    item = entry(1, route="/api/iot/devices")
    recorder = Recorder(FakeElasticsearch(lines(item, "gateway")))
    clock = FakeClock()
    loose = check_logs(
        [item], backend=es(recorder), deadline_s=1, field="trace_id", clock=clock, sleep=clock.sleep
    )
    strict = check_logs(
        [item],
        backend=es(recorder),
        deadline_s=1,
        field="trace_id",
        expect_services=True,
        clock=clock,
        sleep=clock.sleep,
    )
    assert loose.passed
    assert strict.status is Status.FAILED and strict.observed["incomplete"] == 1


def test_ten_thousand_ids_cost_ten_searches() -> None:
    entries = [entry(n) for n in range(1, 10_001)]
    fake = FakeElasticsearch([doc for e in entries for doc in lines(e, "gateway")])
    recorder = Recorder(fake)
    clock = FakeClock()
    result = check_logs(
        entries,
        backend=es(recorder),
        deadline_s=10,
        field="trace_id",
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.passed
    assert len(fake.searches) == math.ceil(10_000 / 1000) == result.attempts


def test_an_unreachable_elasticsearch_is_an_error() -> None:
    for kind in ("connect", "timeout", "500", "not-json"):
        clock = FakeClock()
        result = check_logs(
            [entry(1)],
            backend=es(Recorder(failing(kind))),
            deadline_s=2,
            field="trace_id",
            clock=clock,
            sleep=clock.sleep,
        )
        assert result.status is Status.ERROR, kind
        assert f"elasticsearch at {URL}/restaurant-logs-*" in result.reason


def test_a_wrongly_shaped_answer_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("_field_caps"):
            return httpx.Response(
                200, json={"fields": {"trace_id": {"keyword": {"aggregatable": True}}}}
            )
        return httpx.Response(200, json={"hits": []})

    clock = FakeClock()
    result = check_logs(
        [entry(1)],
        backend=es(Recorder(handler)),
        deadline_s=1,
        field="trace_id",
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.status is Status.ERROR and "malformed answer" in result.reason


def test_evaluate_logs_is_pure_and_an_empty_ledger_is_an_error() -> None:
    observation = CompletenessObservation(log_expectations([], "request_id"), {}, {}, 0.0, 0.0, 0)
    result = evaluate_logs(observation, CompletenessExpected(), "request_id")
    assert result.name == "logs.request_id.completeness" and result.status is Status.ERROR


def test_polling_tells_the_ids_found() -> None:
    entries = [entry(n) for n in range(1, 4)]
    fake = FakeElasticsearch([doc for e in entries[:2] for doc in lines(e, "gateway")])
    clock = FakeClock(now=1001.1)
    told: list[tuple[int, int]] = []
    result = check_logs(
        entries,
        backend=es(Recorder(fake)),
        deadline_s=2,
        field="trace_id",
        poll_interval_s=1.0,
        clock=clock,
        sleep=clock.sleep,
        on_progress=lambda found, wanted: told.append((found, wanted)),
    )
    assert result.status is Status.FAILED
    assert told == [(0, 3), (2, 3), (2, 3), (2, 3)]  # before polling, then three rounds
