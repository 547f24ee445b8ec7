from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from assertions.backends.errors import BackendError
from assertions.backends.prometheus import AlertRule, PrometheusBackend, Sample, Series
from tests.unit.assertions.support import RequestsTransport

URL = "http://prometheus.test:9090"


def backend(
    handler: Callable[[requests.PreparedRequest], tuple[int, Any]],
) -> tuple[PrometheusBackend, RequestsTransport]:
    session = requests.Session()
    prometheus = PrometheusBackend(session, URL, timeout_s=2.0)
    transport = RequestsTransport(handler)
    session.mount(URL, transport)  # after the client mounted its own adapter on the URL
    return prometheus, transport


def params(request: requests.PreparedRequest) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url or "").query)


VECTOR = {
    "status": "success",
    "data": {
        "resultType": "vector",
        "result": [
            {"metric": {"status": "200"}, "value": [1700000000.5, "5"]},
            {"metric": {"status": "500"}, "value": [1700000000.5, "NaN"]},
        ],
    },
}


def test_instant_query_returns_plain_samples() -> None:
    prometheus, transport = backend(lambda request: (200, VECTOR))
    samples = prometheus.instant(
        'sum by (status) (http_requests_total{service="gateway"})', at=1700000000.5
    )
    assert samples[0] == Sample(labels={"status": "200"}, timestamp=1700000000.5, value=5.0)
    assert math.isnan(samples[1].value)
    (request,) = transport.requests
    assert urlsplit(request.url or "").path == "/api/v1/query"
    assert params(request)["time"] == ["1700000000.500"]
    assert params(request)["query"] == ['sum by (status) (http_requests_total{service="gateway"})']


def test_a_scalar_result_is_one_sample_without_labels() -> None:
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1700000000, "2"]}}
    prometheus, _ = backend(lambda request: (200, body))
    assert prometheus.instant("1+1") == [Sample({}, 1700000000.0, 2.0)]


def test_range_query_returns_series() -> None:
    body = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {"job": "users"}, "values": [[10, "1"], [25, "0"]]}],
        },
    }
    prometheus, transport = backend(lambda request: (200, body))
    assert prometheus.range("up", start=10.2, end=25.0, step_s=15) == [
        Series(labels={"job": "users"}, points=((10.0, 1.0), (25.0, 0.0)))
    ]
    query = params(transport.requests[0])
    assert (query["start"], query["end"], query["step"]) == (["10"], ["25"], ["15"])


def _raise(exc: Exception) -> Callable[[requests.PreparedRequest], tuple[int, Any]]:
    def handler(request: requests.PreparedRequest) -> tuple[int, Any]:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (_raise(requests.ConnectionError("refused")), "ConnectionError"),
        (_raise(requests.ReadTimeout("slow")), "timed out"),
        (lambda request: (500, {"status": "error"}), "HTTP Status Code 500"),
        (lambda request: (503, b"<html>down</html>"), "HTTP Status Code 503"),
        (lambda request: (200, b"not json"), "answer is not JSON"),
        (lambda request: (200, {"status": "success"}), "KeyError"),
        (lambda request: (200, {"data": {"result": {"a": 1}}}), "malformed answer"),
        (lambda request: (200, {"data": {"result": [{"metric": {}}]}}), "malformed answer"),
        (lambda request: (200, {"data": {"result": [{"value": [1, None]}]}}), "malformed answer"),
    ],
    ids=[
        "connect",
        "timeout",
        "500",
        "503-html",
        "not-json",
        "no-data",
        "dict-result",
        "no-value",
        "bad-value",
    ],
)
def test_every_failure_is_one_backend_error(
    handler: Callable[[requests.PreparedRequest], tuple[int, Any]], reason: str
) -> None:
    prometheus, _ = backend(handler)
    with pytest.raises(BackendError, match=reason) as caught:
        prometheus.instant("up")
    assert str(caught.value).startswith(f"prometheus at {URL}/api/v1/query:")


def test_range_failures_too() -> None:
    prometheus, _ = backend(lambda request: (400, {"status": "error", "error": "parse error"}))
    with pytest.raises(BackendError, match="parse error") as caught:
        prometheus.range("sum(", start=0, end=10, step_s=1)
    assert caught.value.status == 400
    assert caught.value.url == f"{URL}/api/v1/query_range"


def test_no_retries_by_default() -> None:
    prometheus, transport = backend(lambda request: (503, {"status": "error"}))
    with pytest.raises(BackendError):
        prometheus.instant("up")
    assert len(transport.requests) == 1


# --- alerting rules (/api/v1/rules?type=alert) ---

RULES = json.loads((Path(__file__).parent / "data" / "prometheus-2.42-rules.json").read_text())


def test_rules_lists_every_loaded_alerting_rule() -> None:
    prometheus, transport = backend(lambda request: (200, RULES))
    rules = prometheus.rules()
    assert len(rules) == 16  # refstack/prometheus/rules.yml as Prometheus 2.42 loaded it
    by_name = {rule.name: rule for rule in rules}
    down = by_name["UsersServiceDown"]
    assert isinstance(down, AlertRule)
    assert (down.group, down.health, down.labels["severity"]) == ("users", "ok", "critical")
    assert down.file.endswith("stack/prometheus/rules.yml")  # where the rules were when recorded
    assert 'up{job="users"}' in down.expr
    (request,) = transport.requests
    assert urlsplit(request.url or "").path == "/api/v1/rules"
    assert params(request) == {"type": ["alert"]}


def test_recording_rules_are_left_out() -> None:
    body = {
        "status": "success",
        "data": {
            "groups": [
                {
                    "name": "g",
                    "file": "r.yml",
                    "rules": [
                        {"type": "recording", "name": "job:up:sum", "query": "sum(up)"},
                        {"type": "alerting", "name": "A", "query": "up == 0", "health": "err"},
                    ],
                }
            ]
        },
    }
    prometheus, _ = backend(lambda request: (200, body))
    assert prometheus.rules() == [AlertRule("A", "g", {}, "up == 0", "err", "r.yml")]


@pytest.mark.parametrize(
    ("handler", "reason"),
    [
        (_raise(requests.ConnectionError("refused")), "ConnectionError"),
        (_raise(requests.ReadTimeout("slow")), "timed out"),
        (lambda request: (503, b"<html>down</html>"), "HTTP 503: '<html>down</html>'"),
        (lambda request: (200, b"not json"), "answer is not JSON"),
        (lambda request: (200, {"status": "error", "error": "x"}), "not 'success'"),
        (lambda request: (200, {"status": "success", "data": {}}), "KeyError"),
        (lambda request: (200, {"status": "success", "data": {"groups": {}}}), "not a list"),
        (
            lambda request: (200, {"status": "success", "data": {"groups": [{"name": "g"}]}}),
            "KeyError",
        ),
        (
            lambda request: (
                200,
                {"status": "success", "data": {"groups": [{"name": "g", "rules": [{"name": 1}]}]}},
            ),
            "malformed answer",
        ),
    ],
    ids=[
        "connect",
        "timeout",
        "503-html",
        "not-json",
        "status-error",
        "no-groups",
        "groups-object",
        "no-rules",
        "bad-rule",
    ],
)
def test_every_rules_failure_is_one_backend_error(
    handler: Callable[[requests.PreparedRequest], tuple[int, Any]], reason: str
) -> None:
    prometheus, _ = backend(handler)
    with pytest.raises(BackendError, match=re.escape(reason)) as caught:
        prometheus.rules()
    assert str(caught.value).startswith(f"prometheus at {URL}/api/v1/rules:")


def test_a_rules_status_error_keeps_its_status() -> None:
    prometheus, _ = backend(lambda request: (503, {"status": "error"}))
    with pytest.raises(BackendError) as caught:
        prometheus.rules()
    assert caught.value.status == 503
