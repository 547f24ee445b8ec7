from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from assertions.backends.errors import BackendError
from assertions.backends.span_store import (
    DEFAULT_BATCH_SIZE,
    SpanStoreBackend,
    TimeRange,
)
from tests.unit.assertions.fake_span_store import REAL_SAMPLE, FakeSpanStore
from tests.unit.assertions.support import FAILURES, Recorder, failing, trace_id

URL = "http://opensearch.test:9200"
INDEX = "jaeger-jaeger-span-*"
WINDOW = TimeRange(1000.0, 2000.0)


def full_id(number: int) -> str:
    """A trace id without leading zeros (sent in one form)."""
    return f"f{number:031x}"


def backend(handler: Any, **kwargs: Any) -> SpanStoreBackend:
    recorder = handler if isinstance(handler, Recorder) else Recorder(handler)
    return SpanStoreBackend(recorder.client(), URL, INDEX, {"Authorization": "Basic x"}, **kwargs)


def test_the_real_sample_is_what_the_fake_answers() -> None:
    """The fake's answer to the real request has the real answer's buckets (the shape the
    backend parses is the one OpenSearch gave)."""
    fake = FakeSpanStore(docs=[dict(span) for span in REAL_SAMPLE["spans"]])
    real_id = REAL_SAMPLE["spans"][0]["traceID"]
    found = backend(fake).find_traces([real_id], TimeRange(1796321790.0, 1796321800.0))
    assert set(found) == {real_id}
    assert found[real_id].services == {"gateway", "orders"}
    assert found[real_id].span_count == len(REAL_SAMPLE["spans"])
    real_bucket = REAL_SAMPLE["terms_agg_response"]["aggregations"]["ids"]["buckets"][0]
    assert real_bucket["key"] == real_id
    assert {b["key"] for b in real_bucket["services"]["buckets"]} == found[real_id].services


def test_finds_traces_with_their_services_and_span_counts() -> None:
    fake = FakeSpanStore()
    fake.add(trace_id(1), ["gateway", "orders", "orders"], 1500.0)
    fake.add(trace_id(2), ["gateway"], 1500.0)
    found = backend(fake).find_traces([trace_id(n) for n in (1, 2, 3)], WINDOW)
    assert set(found) == {trace_id(1), trace_id(2)}
    assert found[trace_id(1)].services == {"gateway", "orders"}
    assert found[trace_id(1)].span_count == 3
    assert found[trace_id(2)].services == {"gateway"}


def test_one_size_zero_search_per_batch_with_terms_range_and_aggregation() -> None:
    fake = FakeSpanStore()
    for number in range(1, 12_001, 4):
        fake.add(full_id(number), ["gateway"], 1500.0)
    recorder = Recorder(fake)
    ids = [full_id(number) for number in range(1, 12_001)]
    found = backend(recorder).find_traces(ids, WINDOW)
    assert len(found) == len(range(1, 12_001, 4))
    assert len(fake.searches) == math.ceil(12_000 / DEFAULT_BATCH_SIZE)
    for body in fake.searches:
        assert body["size"] == 0
        (terms,) = [f["terms"]["traceID"] for f in body["query"]["bool"]["filter"] if "terms" in f]
        assert len(terms) <= DEFAULT_BATCH_SIZE
        assert body["aggs"]["traces"]["terms"]["field"] == "traceID"
        assert body["aggs"]["traces"]["terms"]["size"] == len(terms)
        services = body["aggs"]["traces"]["aggs"]["services"]["terms"]
        assert services["field"] == "process.serviceName"
    # the fields are resolved once, and every request carries the credential header
    assert sum(r.url.path.endswith("/_field_caps") for r in recorder.requests) == 1
    assert all(r.headers["Authorization"] == "Basic x" for r in recorder.requests)
    assert all(r.url.path.startswith(f"/{INDEX}/") for r in recorder.requests)


@pytest.mark.parametrize(
    ("time_fields", "field", "scale"),
    [
        (("startTimeMillis", "startTime"), "startTimeMillis", 1000),
        (("startTime",), "startTime", 10**6),
    ],
)
def test_the_time_range_bounds_the_search_on_the_field_the_mapping_has(
    time_fields: tuple[str, ...], field: str, scale: int
) -> None:
    fake = FakeSpanStore(time_fields=time_fields)
    fake.add(trace_id(1), ["gateway"], 999.0)  # before the run
    fake.add(trace_id(2), ["gateway"], 1000.0)
    fake.add(trace_id(3), ["gateway"], 2000.0)
    fake.add(trace_id(4), ["gateway"], 2001.0)  # after it
    store = backend(fake)
    found = store.find_traces([trace_id(n) for n in range(1, 5)], WINDOW)
    assert set(found) == {trace_id(2), trace_id(3)}
    assert store.time_field == field
    (bounds,) = [
        f["range"][field] for f in fake.searches[0]["query"]["bool"]["filter"] if "range" in f
    ]
    assert bounds["gte"] == 1000 * scale


def test_an_id_with_leading_zeros_is_asked_in_both_forms_and_merged() -> None:
    fake = FakeSpanStore()
    padded = trace_id(7)  # 000...07
    fake.add(padded, ["gateway"], 1500.0)
    fake.add(padded.lstrip("0"), ["orders"], 1500.0)  # written by an old Jaeger
    found = backend(fake).find_traces([padded], WINDOW)
    assert found[padded].services == {"gateway", "orders"}
    assert found[padded].span_count == 2
    (terms,) = [
        f["terms"]["traceID"] for f in fake.searches[0]["query"]["bool"]["filter"] if "terms" in f
    ]
    assert terms == [padded, "7"]


def test_nothing_indexed_yet_finds_nothing_without_searching() -> None:
    fake = FakeSpanStore()
    assert backend(fake).find_traces([trace_id(1)], WINDOW) == {}
    assert fake.searches == []


def test_ids_that_are_not_trace_ids_are_never_sent() -> None:
    recorder = Recorder(FakeSpanStore())
    assert backend(recorder).find_traces(["not-hex", "", "0" * 32], WINDOW) == {}
    assert recorder.requests == []


def test_a_refused_batch_is_halved_and_the_limit_remembered() -> None:
    fake = FakeSpanStore(max_terms=1000)
    ids = [full_id(number) for number in range(1, 2501)]
    for trace in ids[::5]:
        fake.add(trace, ["gateway"], 1500.0)
    store = backend(fake, batch_size=2500)
    assert len(store.find_traces(ids, WINDOW)) == 500
    assert store.max_batch() <= 1000
    accepted = [
        b for b in fake.searches if len(b["query"]["bool"]["filter"][0]["terms"]["traceID"]) <= 1000
    ]
    assert sum(len(b["query"]["bool"]["filter"][0]["terms"]["traceID"]) for b in accepted) == 2500


def test_the_body_limit_bounds_the_batch() -> None:
    store = backend(FakeSpanStore(), max_body_bytes=10_000)
    assert store.max_batch() == (10_000 - 1024) // 70


def test_mapping_without_a_time_field_is_an_error_naming_the_fix() -> None:
    fake = FakeSpanStore(time_fields=())
    fake.add(trace_id(1), ["gateway"], 1500.0)
    with pytest.raises(BackendError, match="neither of startTimeMillis, startTime"):
        backend(fake).find_traces([trace_id(1)], WINDOW)


@pytest.mark.parametrize("kind", FAILURES)
def test_every_failure_is_a_backend_error(kind: str) -> None:
    with pytest.raises(BackendError) as caught:
        backend(failing(kind)).find_traces([trace_id(1)], WINDOW)
    assert caught.value.backend == "jaeger span store"
    assert "?" not in caught.value.url


def test_partial_shard_failures_are_an_error_not_missing_traces() -> None:
    fake = FakeSpanStore()
    fake.add(trace_id(1), ["gateway"], 1500.0)

    def handler(request: httpx.Request) -> httpx.Response:
        answer = fake(request)
        if request.url.path.endswith("/_search"):
            body = answer.json()
            body["_shards"] = {
                "total": 2,
                "successful": 1,
                "failed": 1,
                "failures": [{"reason": "x"}],
            }
            return httpx.Response(200, json=body)
        return answer

    with pytest.raises(BackendError, match="1 of 2 shards failed"):
        backend(handler).find_traces([trace_id(1)], WINDOW)


def test_a_time_range_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        TimeRange(2.0, 1.0)
