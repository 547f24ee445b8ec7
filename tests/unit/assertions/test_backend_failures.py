"""Every backend turns every way a server can fail into one BackendError naming the backend,
the URL (without its query) and what went wrong: HTTP 5xx, a 200 that is not JSON, a truncated
JSON body, JSON of the wrong shape, a closed port and a server that never answers. Real HTTP
on loopback (pytest-httpserver), real clients; nothing of ours is patched.

The wrong shapes are those a proxy, another service or another version could send; several of
them used to escape as KeyError / TypeError / AttributeError, or (Jaeger without ``data``) to
read as "no trace found".
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
from pytest_httpserver import HTTPServer

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.errors import BackendError
from assertions.backends.jaeger import JaegerBackend
from assertions.backends.prometheus import PrometheusBackend
from assertions.backends.sink import SinkBackend
from chaosgate.http_clients import new_http_client
from tests.support.servers import closed_port_url, hanging_server_url

TIMEOUT_S = 0.3
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
ANY_PATH = re.compile(".*")


@dataclass(frozen=True)
class Read:
    """One read of a backend at ``base``: what a check asks it."""

    backend: str
    call: Callable[[str], object]


@contextmanager
def _httpx() -> Iterator[httpx.Client]:
    with new_http_client(TIMEOUT_S) as client:
        yield client


def _jaeger(base: str) -> object:
    with _httpx() as client:
        return JaegerBackend(client, base).find_traces([TRACE])


def _elasticsearch(base: str) -> object:
    with _httpx() as client:
        return ElasticsearchBackend(client, base, "restaurant-logs-*").find_ids("trace_id", [TRACE])


def _elasticsearch_count(base: str) -> object:
    with _httpx() as client:
        es = ElasticsearchBackend(client, base, "restaurant-logs-*")
        return es.count({"term": {"trace_id": TRACE}})


def _prometheus(base: str) -> object:
    with requests.Session() as session:
        return PrometheusBackend(session, base, timeout_s=TIMEOUT_S).instant("up")


def _prometheus_rules(base: str) -> object:
    with requests.Session() as session:
        return PrometheusBackend(session, base, timeout_s=TIMEOUT_S).rules()


def _alertmanager(base: str) -> object:
    with _httpx() as client:
        return AlertmanagerBackend(client, base).alerts()


def _alertmanager_config(base: str) -> object:
    with _httpx() as client:
        return AlertmanagerBackend(client, base).config()


def _sink(base: str) -> object:
    with _httpx() as client:
        return SinkBackend(client, base).notifications(alertname="UsersServiceDown")


READS = {
    "jaeger": Read("jaeger", _jaeger),
    "elasticsearch": Read("elasticsearch", _elasticsearch),
    "elasticsearch-count": Read("elasticsearch", _elasticsearch_count),
    "prometheus": Read("prometheus", _prometheus),
    "prometheus-rules": Read("prometheus", _prometheus_rules),
    "alertmanager": Read("alertmanager", _alertmanager),
    "alertmanager-config": Read("alertmanager", _alertmanager_config),
    "sink": Read("sink", _sink),
}

FIELD_CAPS = {"indices": ["restaurant-logs-2026.01.01"], "fields": {
    "trace_id": {"keyword": {"type": "keyword", "aggregatable": True}},
    "service": {"keyword": {"type": "keyword", "aggregatable": True}},
}}  # fmt: skip

# (case, read, answers by path suffix, not-found answer): the first answer whose suffix ends the
# path is served with 200; the case's shape is wrong somewhere the read must notice
WRONG_SHAPES: list[tuple[str, str, dict[str, Any]]] = [
    ("jaeger-no-data", "jaeger", {"/api/traces": {"errors": None, "total": 0}}),
    ("jaeger-data-object", "jaeger", {"/api/traces": {"data": {"traceID": TRACE}}}),
    ("jaeger-bad-trace-id", "jaeger", {"/api/traces": {"data": [{"traceID": "zz", "spans": []}]}}),
    ("jaeger-list", "jaeger", {"/api/traces": [TRACE]}),
    ("jaeger-span-not-object", "jaeger", {"/api/traces": {"data": [
        {"traceID": TRACE, "spans": ["GET /api/menu"], "processes": {}}]}}),
    ("es-field-caps-without-fields", "elasticsearch", {"/_field_caps": {"indices": []}}),
    ("es-search-hits-only", "elasticsearch", {
        "/_field_caps": FIELD_CAPS, "/_search": {"took": 1, "hits": {"hits": []}}}),
    ("es-search-shards-list", "elasticsearch", {
        "/_field_caps": FIELD_CAPS, "/_search": {"_shards": [], "aggregations": None}}),
    ("es-search-bucket-first-number", "elasticsearch", {
        "/_field_caps": FIELD_CAPS,
        "/_search": {"_shards": {"total": 1, "failed": 0}, "aggregations": {"ids": {"buckets": [
            {"key": TRACE, "doc_count": 1, "first": 5}]}}}}),
    ("es-search-buckets-text", "elasticsearch", {
        "/_field_caps": FIELD_CAPS,
        "/_search": {"_shards": {"total": 1}, "aggregations": {"ids": {"buckets": TRACE}}}}),
    ("es-count-failures-text", "elasticsearch-count", {
        "/_count": {"count": 3, "_shards": {"total": 2, "failed": 1, "failures": "x"}}}),
    ("es-count-shards-text", "elasticsearch-count", {"/_count": {"count": 3, "_shards": "2"}}),
    ("prometheus-result-object", "prometheus", {"/api/v1/query": {
        "status": "success", "data": {"resultType": "vector", "result": {"metric": {}}}}}),
    ("prometheus-no-data", "prometheus", {"/api/v1/query": {"status": "success"}}),
    ("prometheus-value-text", "prometheus", {"/api/v1/query": {
        "status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": "1"}]}}}),
    ("prometheus-rules-text", "prometheus-rules", {"/api/v1/rules": {
        "status": "success", "data": {"groups": [{"name": "g", "rules": ["UsersServiceDown"]}]}}}),
    ("prometheus-rules-error", "prometheus-rules", {"/api/v1/rules": {
        "status": "error", "error": "not ready"}}),
    ("alertmanager-v1-shape", "alertmanager", {"/api/v2/alerts": {"alerts": []}}),
    ("alertmanager-bad-time", "alertmanager", {"/api/v2/alerts": [
        {"fingerprint": "f", "labels": {}, "startsAt": "yesterday", "status": {}}]}),
    ("alertmanager-status-text", "alertmanager", {"/api/v2/alerts": [
        {"fingerprint": "f", "labels": {}, "startsAt": "2026-01-01T00:00:00Z",
         "status": "active"}]}),
    ("alertmanager-config-number", "alertmanager-config", {
        "/api/v2/status": {"config": {"original": 5}}}),
    ("alertmanager-config-list", "alertmanager-config", {"/api/v2/status": ["route"]}),
    ("sink-notifications-object", "sink", {"/notifications": {"notifications": {"webhook": []}}}),
    ("sink-list", "sink", {"/notifications": []}),
    ("sink-bad-time", "sink", {"/notifications": {"notifications": [
        {"received_at_unix": "now", "payload": {}}]}}),
]  # fmt: skip


def _serve(httpserver: HTTPServer, answers: dict[str, Any]) -> None:
    for suffix, body in answers.items():
        httpserver.expect_request(re.compile(f".*{re.escape(suffix)}$")).respond_with_json(body)


def _raised(read: Read, base: str) -> BackendError:
    with pytest.raises(BackendError) as caught:
        read.call(base)
    error = caught.value
    assert error.backend == read.backend
    assert error.url.startswith(base) and "?" not in error.url, error.url
    assert str(error).startswith(f"{read.backend} at {base}"), str(error)
    return error


@pytest.mark.parametrize("name", sorted(READS))
def test_a_5xx_is_a_backend_error_with_its_status(httpserver: HTTPServer, name: str) -> None:
    httpserver.expect_request(ANY_PATH).respond_with_data("upstream unavailable", status=503)
    error = _raised(READS[name], httpserver.url_for("").rstrip("/"))
    assert error.status == 503 or "503" in error.reason, error.reason
    assert "503" in error.reason


@pytest.mark.parametrize("name", sorted(READS))
def test_a_200_that_is_not_json_is_a_backend_error(httpserver: HTTPServer, name: str) -> None:
    page = "<html><body><h1>Sign in</h1></body></html>"
    httpserver.expect_request(ANY_PATH).respond_with_data(page, content_type="text/html")
    error = _raised(READS[name], httpserver.url_for("").rstrip("/"))
    assert re.search(r"not JSON|JSONDecodeError|Expecting value|malformed", error.reason), error


@pytest.mark.parametrize("name", sorted(READS))
def test_a_truncated_json_body_is_a_backend_error(httpserver: HTTPServer, name: str) -> None:
    cut = '{"status": "success", "data": [{"traceID": "4bf92f3577b34da6a3ce9'
    httpserver.expect_request(ANY_PATH).respond_with_data(cut, content_type="application/json")
    error = _raised(READS[name], httpserver.url_for("").rstrip("/"))
    assert re.search(r"not JSON|JSONDecodeError|Unterminated|malformed", error.reason), error


@pytest.mark.parametrize(
    ("case", "name", "answers"), WRONG_SHAPES, ids=[c[0] for c in WRONG_SHAPES]
)
def test_json_of_the_wrong_shape_is_a_malformed_answer(
    httpserver: HTTPServer, case: str, name: str, answers: dict[str, Any]
) -> None:
    _serve(httpserver, answers)
    error = _raised(READS[name], httpserver.url_for("").rstrip("/"))
    assert re.search(r"malformed|not aggregatable", error.reason), (case, error.reason)


@pytest.mark.parametrize("name", sorted(READS))
def test_a_closed_port_is_a_backend_error(name: str) -> None:
    error = _raised(READS[name], closed_port_url())
    assert re.search(r"Connect|refused", error.reason), error.reason


@pytest.mark.parametrize("name", sorted(READS))
def test_a_server_that_never_answers_times_out_within_the_client_timeout(name: str) -> None:
    with hanging_server_url() as base:
        started = time.monotonic()
        error = _raised(READS[name], base)
        took = time.monotonic() - started
    assert "timed out" in error.reason, error.reason
    # one request, one timeout: no retry loop inside a backend
    assert took < 3 * TIMEOUT_S + 0.5, took
