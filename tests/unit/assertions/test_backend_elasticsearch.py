from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.errors import BackendError
from tests.unit.assertions.fake_backends import FakeElasticsearch
from tests.unit.assertions.support import FAILURES, Recorder, failing, trace_id

URL = "https://es.test:9200"
INDEX = "restaurant-logs-*"


def doc(number: int, service: str, millis: float) -> dict[str, Any]:
    return {
        "trace_id": trace_id(number),
        "request_id": f"req-{number}",
        "service": service,
        "@timestamp": "2026-01-01T00:00:00Z",
        "@timestamp_ms": millis,
    }


def backend(handler: Any, headers: dict[str, str] | None = None) -> ElasticsearchBackend:
    recorder = handler if isinstance(handler, Recorder) else Recorder(handler)
    return ElasticsearchBackend(recorder.client(), URL, INDEX, headers or {})


def test_summarizes_each_id_found() -> None:
    fake = FakeElasticsearch(
        [doc(1, "gateway", 2000.0), doc(1, "orders", 1500.0), doc(2, "gateway", 9.0)]
    )
    found = backend(fake).find_ids("trace_id", [trace_id(1), trace_id(2), trace_id(3)])
    assert set(found) == {trace_id(1), trace_id(2)}
    assert found[trace_id(1)].doc_count == 2
    assert found[trace_id(1)].first_timestamp_unix == 1.5
    assert found[trace_id(1)].services == {"gateway", "orders"}


def test_one_size_zero_terms_search_per_thousand_ids() -> None:
    fake = FakeElasticsearch([doc(n, "gateway", 1.0) for n in range(1, 10_001, 3)])
    recorder = Recorder(fake)
    found = backend(recorder).find_ids("trace_id", [trace_id(n) for n in range(1, 10_001)])
    searches = [r for r in recorder.requests if r.url.path.endswith("/_search")]
    assert len(searches) == math.ceil(10_000 / 1000)
    assert len(found) == len(range(1, 10_001, 3))
    for body in fake.searches:
        assert body["size"] == 0
        assert len(body["query"]["bool"]["filter"][0]["terms"]["trace_id"]) == 1000
        assert body["aggs"]["ids"]["terms"]["size"] == 1000
    # the field is resolved once, not once per batch
    assert sum(r.url.path.endswith("/_field_caps") for r in recorder.requests) == 1


@pytest.mark.parametrize("batch_size", [1, 250, 1000])
def test_batch_size(batch_size: int) -> None:
    count = min(2000, 300 * batch_size)  # a few hundred requests at most, 2,000 ids at most
    recorder = Recorder(FakeElasticsearch([doc(1, "gateway", 1.0)]))
    backend(recorder).find_ids(
        "trace_id", [trace_id(n) for n in range(1, count + 1)], batch_size=batch_size
    )
    searches = [r for r in recorder.requests if r.url.path.endswith("/_search")]
    assert len(searches) == math.ceil(count / batch_size)


def test_batch_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        backend(FakeElasticsearch()).find_ids("trace_id", ["a"], batch_size=1001)


def test_text_fields_are_aggregated_by_their_keyword_sub_field() -> None:
    fake = FakeElasticsearch([doc(1, "gateway", 1.0)], keyword_suffix=True)
    found = backend(fake).find_ids("request_id", ["req-1", "req-9"])
    assert set(found) == {"req-1"}
    assert found["req-1"].services == {"gateway"}
    (body,) = fake.searches
    assert body["query"] == {
        "bool": {"filter": [{"terms": {"request_id.keyword": ["req-1", "req-9"]}}]}
    }
    assert body["aggs"]["ids"]["terms"]["execution_hint"] == "map"
    assert body["aggs"]["ids"]["aggs"]["services"]["terms"]["field"] == "service.keyword"


def test_no_index_yet_means_nothing_found_and_no_search() -> None:
    recorder = Recorder(FakeElasticsearch())
    assert backend(recorder).find_ids("trace_id", [trace_id(1)]) == {}
    assert [r.url.path.rsplit("/", 1)[-1] for r in recorder.requests] == ["_field_caps"]


def test_a_search_over_no_index_is_empty() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("_field_caps"):
            return httpx.Response(
                200, json={"fields": {"trace_id": {"keyword": {"aggregatable": True}}}}
            )
        shards = {"total": 0, "successful": 0, "skipped": 0, "failed": 0}
        return httpx.Response(200, json={"timed_out": False, "_shards": shards, "hits": {}})

    assert backend(handler).find_ids("trace_id", [trace_id(1)]) == {}


def test_a_text_field_without_keyword_is_an_error_naming_the_field() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        caps = {"trace_id": {"text": {"type": "text", "aggregatable": False}}}
        return httpx.Response(200, json={"fields": caps})

    with pytest.raises(BackendError, match="'trace_id' is not aggregatable"):
        backend(handler).find_ids("trace_id", [trace_id(1)])


def test_sends_auth_headers_index_pattern_and_lenient_index_options() -> None:
    recorder = Recorder(FakeElasticsearch([doc(1, "gateway", 1.0)]))
    found = backend(recorder, {"Authorization": "ApiKey c2VjcmV0"}).find_ids(
        "trace_id", [trace_id(1)]
    )
    assert set(found) == {trace_id(1)}
    paths = [request.url.path.rsplit("/", 1)[-1] for request in recorder.requests]
    assert paths == ["_field_caps", "_search"]  # the field check, then the search
    for request in recorder.requests:
        assert request.headers["Authorization"] == "ApiKey c2VjcmV0"
        assert request.url.path.startswith("/restaurant-logs-*/")
        assert request.url.params["allow_no_indices"] == "true"


def test_count() -> None:
    recorder = Recorder(FakeElasticsearch([doc(1, "gateway", 1.0), doc(2, "orders", 1.0)]))
    assert backend(recorder).count({"term": {"service": "gateway"}}) == 2
    (request,) = recorder.requests
    assert json.loads(request.content) == {"query": {"term": {"service": "gateway"}}}


@pytest.mark.parametrize("kind", FAILURES)
def test_failures_become_one_backend_error_without_credentials(kind: str) -> None:
    with pytest.raises(BackendError) as caught:
        backend(failing(kind), {"Authorization": "Basic c2VjcmV0"}).find_ids("trace_id", ["a"])
    assert str(caught.value).startswith(f"elasticsearch at {URL}/{INDEX}/_field_caps:")
    assert "c2VjcmV0" not in str(caught.value)
    with pytest.raises(BackendError, match=r"^elasticsearch at .*_count"):
        backend(failing(kind)).count({"match_all": {}})


def _search_answer(answer: Any) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("_field_caps"):
            return httpx.Response(
                200, json={"fields": {"trace_id": {"keyword": {"aggregatable": True}}}}
            )
        return httpx.Response(200, json=answer)

    return handler


SHARDS = {"total": 1, "successful": 1, "failed": 0}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ([], "JSON object"),
        ({"_shards": SHARDS}, "aggregations"),
        ({"_shards": SHARDS, "aggregations": {"ids": {}}}, "buckets"),
        ({"_shards": SHARDS, "aggregations": {"ids": {"buckets": [{"key": "a"}]}}}, "doc_count"),
        ({"timed_out": True, "_shards": SHARDS, "aggregations": {}}, "timed out"),
        (
            {"_shards": {"total": 2, "failed": 1, "failures": [{"reason": "boom"}]}},
            "1 of 2 shards failed",
        ),
    ],
    ids=["list", "no-aggs", "no-buckets", "bucket", "timed-out", "shard-failure"],
)
def test_wrong_or_partial_search_answers_are_backend_errors(answer: Any, reason: str) -> None:
    with pytest.raises(BackendError, match=f"malformed answer.*{reason}"):
        backend(_search_answer(answer)).find_ids("trace_id", ["a"])


@pytest.mark.parametrize("answer", [{"fields": []}, {"count": 1}])
def test_wrong_field_caps_answer(answer: Any) -> None:
    with pytest.raises(BackendError, match="malformed answer"):
        backend(lambda request: httpx.Response(200, json=answer)).find_ids("trace_id", ["a"])


@pytest.mark.parametrize("answer", [{}, {"count": "3"}, {"count": True}, []])
def test_wrong_count_answer(answer: Any) -> None:
    with pytest.raises(BackendError, match="malformed answer"):
        backend(lambda request: httpx.Response(200, json=answer)).count({"match_all": {}})


def test_an_id_field_mapped_keyword_in_one_index_and_text_in_another_is_refused() -> None:
    # _field_caps as Elasticsearch 7.17.29 answered for such a pair (metadata_field left out)
    caps = {
        "indices": ["logs-a", "logs-b"],
        "fields": {
            "trace_id": {
                "text": {"type": "text", "aggregatable": False, "indices": ["logs-b"]},
                "keyword": {"type": "keyword", "aggregatable": True, "indices": ["logs-a"]},
            },
            "trace_id.keyword": {"keyword": {"type": "keyword", "aggregatable": True}},
        },
    }
    recorder = Recorder(lambda request: httpx.Response(200, json=caps))
    backend = ElasticsearchBackend(recorder.client(), "http://es:9200", "logs-*")
    with pytest.raises(BackendError, match=r"keyword in logs-a but text in logs-b"):
        backend.find_ids("trace_id", ["t-1"])


def test_an_id_field_of_two_aggregatable_types_is_taken_as_it_is() -> None:
    caps = {
        "fields": {
            "trace_id": {
                "keyword": {"type": "keyword", "aggregatable": True, "indices": ["logs-a"]},
                "constant_keyword": {"type": "constant_keyword", "aggregatable": True},
            }
        }
    }
    recorder = Recorder(lambda request: httpx.Response(200, json=caps))
    backend = ElasticsearchBackend(recorder.client(), "http://es:9200", "logs-*")
    assert backend.aggregatable_fields("trace_id") == {"trace_id": "trace_id"}
