"""Error bodies as Elasticsearch 7.17.29 and OpenSearch 2.19.6 sent them (captured from the
local stack's nodes), read into one line a user can act on."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.errors import BackendError
from assertions.backends.search_errors import error_reason
from tests.unit.assertions.support import Recorder

MISSING_INDEX = {
    "error": {
        "root_cause": [
            {
                "type": "index_not_found_exception",
                "reason": "no such index [nope-idx]",
                "index": "nope-idx",
            }
        ],
        "type": "index_not_found_exception",
        "reason": "no such index [nope-idx]",
        "index": "nope-idx",
    },
    "status": 404,
}
BAD_QUERY = {
    "error": {
        "root_cause": [{"type": "parsing_exception", "reason": "unknown query [termz]"}],
        "type": "parsing_exception",
        "reason": "unknown query [termz]",
        "caused_by": {
            "type": "named_object_not_found_exception",
            "reason": "[1:19] unknown field [termz]",
        },
    },
    "status": 400,
}
WRONG_METHOD = {  # both stores: the error is a string
    "error": "Incorrect HTTP method for uri [/_field_caps] and method [DELETE]",
    "status": 405,
}
NO_HANDLER = {"error": "no handler found for uri [/probe-a/_pit] and method [POST]"}  # OpenSearch


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (MISSING_INDEX, "index_not_found_exception: no such index [nope-idx]"),
        (
            BAD_QUERY,
            "parsing_exception: unknown query [termz] (caused by "
            "named_object_not_found_exception: [1:19] unknown field [termz])",
        ),
        (WRONG_METHOD, "Incorrect HTTP method for uri [/_field_caps] and method [DELETE]"),
        (NO_HANDLER, "no handler found for uri [/probe-a/_pit] and method [POST]"),
        ({"error": {"root_cause": [{"type": "x", "reason": "y"}]}}, "x: y"),
        ({"error": {"reason": "only a reason"}}, "only a reason"),
        ({"error": 3}, None),
        ({"status": 500}, None),
        (["error"], None),
    ],
)
def test_either_form_of_error_body_is_read_into_one_line(body: Any, reason: str | None) -> None:
    assert error_reason(body) == reason


def test_a_cause_already_in_the_reason_is_not_repeated() -> None:
    body = {"error": {"type": "a", "reason": "b", "caused_by": {"type": "a", "reason": "b"}}}
    assert error_reason(body) == "a: b"


@pytest.mark.parametrize(("status", "body"), [(404, MISSING_INDEX), (405, WRONG_METHOD)])
def test_a_store_s_error_reaches_the_backend_error_as_its_reason(
    status: int, body: dict[str, Any]
) -> None:
    recorder = Recorder(lambda request: httpx.Response(status, json=body))
    backend = ElasticsearchBackend(recorder.client(), "http://es:9200", "nope-idx")
    with pytest.raises(BackendError) as caught:
        backend.count({"match_all": {}})
    assert caught.value.status == status
    assert caught.value.reason == f"HTTP {status}: {error_reason(body)}"


def test_a_body_that_is_not_a_store_error_is_quoted_as_before() -> None:
    recorder = Recorder(lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    backend = ElasticsearchBackend(recorder.client(), "http://es:9200", "logs-*")
    with pytest.raises(BackendError, match=r"HTTP 502: '<html>bad gateway</html>'"):
        backend.count({"match_all": {}})
