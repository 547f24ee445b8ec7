"""The suite's Elasticsearch backend against the store the local stack runs, whichever it is.

``scripts/test`` runs this module with each store (``pytest --store opensearch`` and
``--store elasticsearch``): what the two answer differently (their root's marks, ``_field_caps``
shapes, error bodies) is handled in the backend, and these tests are where that is proved
against real nodes rather than recorded answers. Each test writes indices of its own, named
``chaosgate-probe-<random>-*``, and deletes them afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from assertions.backends.elasticsearch import ELASTICSEARCH_TAGLINE, ElasticsearchBackend
from assertions.backends.errors import BackendError
from tests.integration.conftest import LocalStack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

_DOC = {"trace_id": "t-1", "service": "orders", "@timestamp": "2026-12-06T08:00:00Z"}


@pytest.fixture()
def probe(local_stack: LocalStack, http: httpx.Client) -> Iterator[str]:
    """A prefix for this test's indices; every index under it is deleted afterwards."""
    prefix = f"chaosgate-probe-{uuid.uuid4().hex[:8]}"
    yield prefix
    http.delete(f"{local_stack.urls['store']}/{prefix}-*")


def _create(http: httpx.Client, store: str, index: str, properties: dict[str, Any] | None) -> None:
    if properties is not None:
        created = http.put(f"{store}/{index}", json={"mappings": {"properties": properties}})
        assert created.status_code == 200, created.text
    written = http.post(f"{store}/{index}/_doc", params={"refresh": "true"}, json=_DOC)
    assert written.status_code == 201, written.text


def _backend(http: httpx.Client, local_stack: LocalStack, pattern: str) -> ElasticsearchBackend:
    return ElasticsearchBackend(http, local_stack.urls["store"], pattern)


def test_the_store_is_named_as_its_node_reports_itself(
    local_stack: LocalStack, http: httpx.Client
) -> None:
    info = _backend(http, local_stack, "restaurant-logs-*").version()
    assert info.details["distribution"] == local_stack.store.name
    assert info.version == local_stack.store.product.split()[-1]
    if local_stack.store.name == "elasticsearch":
        # what Elastic's own clients check before they talk to a node
        assert info.details["product_header"] == "Elasticsearch"
        assert info.details["tagline"] == ELASTICSEARCH_TAGLINE
    else:
        assert "product_header" not in info.details
        assert info.details["tagline"] != ELASTICSEARCH_TAGLINE


def test_an_id_field_resolves_to_the_name_its_mapping_makes_aggregatable(
    local_stack: LocalStack, http: httpx.Client, probe: str
) -> None:
    store = local_stack.urls["store"]
    _create(http, store, f"{probe}-keyword", {"trace_id": {"type": "keyword"}})
    _create(http, store, f"{probe}-dynamic", None)  # text with a .keyword sub-field
    _create(http, store, f"{probe}-text", {"trace_id": {"type": "text"}})
    keyword = _backend(http, local_stack, f"{probe}-keyword")
    assert keyword.aggregatable_fields("trace_id") == {"trace_id": "trace_id"}
    dynamic = _backend(http, local_stack, f"{probe}-dynamic")
    assert dynamic.aggregatable_fields("trace_id") == {"trace_id": "trace_id.keyword"}
    for backend in (keyword, dynamic):
        found = backend.find_ids("trace_id", ["t-1", "t-2"])
        assert set(found) == {"t-1"}
        assert found["t-1"].services == {"orders"}
        assert found["t-1"].doc_count == 1
    with pytest.raises(BackendError, match="'trace_id' is not aggregatable"):
        _backend(http, local_stack, f"{probe}-text").aggregatable_fields("trace_id")
    # one pattern over a keyword and a dynamic mapping: no one name covers both (trace_id fails
    # on the text index, trace_id.keyword misses the keyword one), so it is refused, by name
    both = _backend(http, local_stack, f"{probe}-keyword,{probe}-dynamic")
    with pytest.raises(BackendError, match=rf"keyword in {probe}-keyword but text in {probe}-dyn"):
        both.find_ids("trace_id", ["t-1"])


def test_a_pattern_that_matches_no_index_finds_nothing_and_is_no_error(
    local_stack: LocalStack, http: httpx.Client, probe: str
) -> None:
    backend = _backend(http, local_stack, f"{probe}-none-*")
    assert backend.aggregatable_fields("trace_id") == {}
    assert backend.find_ids("trace_id", ["t-1"]) == {}
    assert backend.count({"match_all": {}}) == 0


def test_a_query_the_store_rejects_is_an_error_naming_its_reason(
    local_stack: LocalStack, http: httpx.Client, probe: str
) -> None:
    _create(http, local_stack.urls["store"], f"{probe}-keyword", {"trace_id": {"type": "keyword"}})
    backend = _backend(http, local_stack, f"{probe}-keyword")
    with pytest.raises(BackendError) as caught:
        backend.count({"termz": {"trace_id": "t-1"}})
    assert caught.value.status == 400
    assert caught.value.reason.startswith("HTTP 400: parsing_exception: unknown query [termz]")


def test_the_log_index_template_is_installed_through_the_composable_api(
    local_stack: LocalStack, http: httpx.Client
) -> None:
    answer = http.get(f"{local_stack.urls['store']}/_index_template/restaurant-logs")
    assert answer.status_code == 200, answer.text
    (template,) = answer.json()["index_templates"]
    assert template["index_template"]["index_patterns"] == ["restaurant-logs-*"]
    # the services' logs are mapped by it: their ids are keywords, aggregated as they are
    backend = _backend(http, local_stack, "restaurant-logs-*")
    http.get(f"{local_stack.urls['gateway']}/api/menu")  # a line, if none has arrived yet
    resolved = wait_until(
        lambda: backend.aggregatable_fields("trace_id", "request_id") or None,
        timeout_s=30,
        message="no service log line reached restaurant-logs-*",
        interval_s=0.5,
    )
    assert resolved == {"trace_id": "trace_id", "request_id": "request_id"}
