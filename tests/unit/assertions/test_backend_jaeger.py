from __future__ import annotations

import math

import httpx
import pytest

from assertions.backends.errors import BackendError
from assertions.backends.jaeger import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_URL_LENGTH,
    JaegerBackend,
    normalize_trace_id,
)
from tests.unit.assertions.fake_backends import FakeJaeger, jaeger_trace
from tests.unit.assertions.support import FAILURES, Recorder, failing, trace_id

URL = "http://jaeger.test:16686"


def backend(recorder: Recorder, **kwargs: int) -> JaegerBackend:
    return JaegerBackend(recorder.client(), URL, **kwargs)


def test_summarizes_found_traces_and_leaves_missing_ids_out() -> None:
    fake = FakeJaeger({trace_id(1): ["gateway", "orders"], trace_id(2): ["gateway"]})
    found = backend(Recorder(fake)).find_traces([trace_id(1), trace_id(2), trace_id(3)])
    assert set(found) == {trace_id(1), trace_id(2)}
    full = found[trace_id(1)]
    assert full.services == {"gateway", "orders"}
    assert full.span_count == 3
    assert full.operations["orders"] == {"GET /api/orders", "SELECT orders.db"}
    assert full.has_db_span is True
    assert full.earliest_start_unix == 1.0
    assert found[trace_id(2)].has_db_span is False


def test_all_missing_is_an_empty_answer_not_an_error() -> None:
    assert backend(Recorder(FakeJaeger())).find_traces([trace_id(7), trace_id(8)]) == {}


def test_sends_ids_as_repeated_trace_id_params() -> None:
    recorder = Recorder(FakeJaeger())
    backend(recorder).find_traces([trace_id(1), trace_id(2)])
    (request,) = recorder.requests
    assert request.url.path == "/api/traces"
    assert request.url.params.get_list("traceID") == [trace_id(1), trace_id(2)]


def test_ten_thousand_ids_cost_one_request_per_batch() -> None:
    recorder = Recorder(FakeJaeger({trace_id(n): ["gateway"] for n in range(1, 10_001, 7)}))
    ids = [trace_id(n) for n in range(1, 10_001)]
    found = backend(recorder).find_traces(ids)
    assert len(recorder.requests) == math.ceil(10_000 / DEFAULT_BATCH_SIZE)
    sent = [i for request in recorder.requests for i in request.url.params.get_list("traceID")]
    assert sorted(sent) == sorted(ids)
    assert all(len(str(r.url)) <= DEFAULT_MAX_URL_LENGTH for r in recorder.requests)
    assert len(found) == len(range(1, 10_001, 7))


@pytest.mark.parametrize("batch_size", [1, 100, 1000])
def test_batch_size_is_honoured_within_the_url_limit(batch_size: int) -> None:
    count = min(3000, 300 * batch_size)  # a few hundred requests at most, 3,000 ids at most
    recorder = Recorder(FakeJaeger())
    jaeger = backend(recorder, max_url_length=65_536)
    jaeger.find_traces([trace_id(n) for n in range(1, count + 1)], batch_size=batch_size)
    assert len(recorder.requests) == math.ceil(count / batch_size)


def test_a_long_base_url_shrinks_the_batch_to_fit() -> None:
    recorder = Recorder(FakeJaeger())
    jaeger = JaegerBackend(recorder.client(), URL + "/" + "x" * 4000, max_url_length=8192)
    assert jaeger.max_batch(500) < DEFAULT_BATCH_SIZE
    jaeger.find_traces([trace_id(n) for n in range(1, 501)], batch_size=500)
    assert all(len(str(r.url)) <= 8192 for r in recorder.requests)


def test_a_414_halves_the_batch_and_remembers_it() -> None:
    recorder = Recorder(FakeJaeger({trace_id(5): ["gateway"]}, max_url_length=2500))
    jaeger = backend(recorder)
    found = jaeger.find_traces([trace_id(n) for n in range(1, 201)])
    assert set(found) == {trace_id(5)}
    assert len(str(recorder.requests[0].url)) > 2500  # refused with 414, then split
    assert jaeger.max_batch() < DEFAULT_BATCH_SIZE
    recorder.requests.clear()
    jaeger.find_traces([trace_id(n) for n in range(1, 201)])
    assert all(len(str(r.url)) <= 2500 for r in recorder.requests)


def test_ids_are_normalized_and_non_ids_never_sent() -> None:
    recorder = Recorder(FakeJaeger({trace_id(0xABC): ["gateway"]}))
    found = backend(recorder).find_traces(["ABC", "not-hex", "", "0" * 32, trace_id(0xABC)])
    assert set(found) == {trace_id(0xABC)}
    (request,) = recorder.requests
    assert request.url.params.get_list("traceID") == [trace_id(0xABC)]
    assert normalize_trace_id(" 1F ") == "0" * 30 + "1f"
    assert normalize_trace_id("g" * 32) is None
    assert normalize_trace_id("1" * 33) is None


def test_no_ids_no_request() -> None:
    recorder = Recorder(FakeJaeger())
    assert backend(recorder).find_traces([]) == {}
    assert recorder.requests == []


def test_a_trace_listed_twice_is_merged() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        trace = jaeger_trace(trace_id(1), ["gateway"])
        return httpx.Response(200, json={"data": [trace, trace], "errors": None})

    found = backend(Recorder(handler)).find_traces([trace_id(1)])
    assert found[trace_id(1)].span_count == 1


def test_short_trace_ids_in_the_answer_are_padded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [jaeger_trace("abc", ["gateway"])]})

    assert set(backend(Recorder(handler)).find_traces(["abc"])) == {trace_id(0xABC)}


@pytest.mark.parametrize("kind", FAILURES)
def test_transport_and_http_failures_become_one_backend_error(kind: str) -> None:
    with pytest.raises(BackendError) as caught:
        backend(Recorder(failing(kind))).find_traces([trace_id(1)])
    message = str(caught.value)
    assert message.startswith(f"jaeger at {URL}/api/traces:")
    assert "traceID" not in message  # the URL is named without its kilobytes of ids


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"data": {"traceID": "1"}},
        {"data": [{"traceID": trace_id(1)}]},
        {"data": [{"traceID": trace_id(1), "spans": [{"spanID": "1"}], "processes": {}}]},
        {"data": [], "errors": [{"msg": "elasticsearch: no such index"}]},
        {"data": [{"traceID": "zz", "spans": [], "processes": {}}]},
    ],
    ids=["list", "data-object", "no-spans", "span-without-process", "other-error", "bad-id"],
)
def test_a_wrongly_shaped_answer_is_a_backend_error(body: object) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=body))
    with pytest.raises(BackendError, match="malformed answer"):
        backend(recorder).find_traces([trace_id(1)])


def test_url_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="max_url_length"):
        JaegerBackend(httpx.Client(), URL, max_url_length=70_000)
    with pytest.raises(ValueError, match="batch_size"):
        JaegerBackend(httpx.Client(), URL).max_batch(0)
