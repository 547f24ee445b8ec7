"""Each backend's ``version()``: what the part's own API says it is, faked at the transport.

The answers are shaped as the parts send them: Alertmanager 0.25's recorded ``/api/v2/status``,
Prometheus' ``/api/v1/status/buildinfo``, OpenSearch 2.19's and Elasticsearch 8's root
endpoint, and Jaeger's UI page as its query service rewrites it on start (the placeholder page
of a binary built without the UI, with the build information of a plain ``go build``: empty,
and of a release build).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.build_info import BuildInfo
from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.errors import BackendError
from assertions.backends.jaeger import UNSTAMPED, JaegerBackend
from assertions.backends.prometheus import PrometheusBackend
from tests.unit.assertions.support import FAILURES, Recorder, RequestsTransport, failing

DATA = Path(__file__).parent / "data"
JAEGER = "http://jaeger.test:16686"
PROMETHEUS = "http://prometheus.test:9090"
ALERTMANAGER = "http://am.test:9093"
ELASTICSEARCH = "https://es.test:9200"


def jaeger_page(info: dict[str, str] | None) -> str:
    """Jaeger's placeholder UI page after the query service's search-and-replace (None: as
    the template has it, before any replacement)."""
    version = "DEFAULT_VERSION" if info is None else json.dumps(info, separators=(",", ":"))
    return (
        '<!DOCTYPE html><html lang="en"><base href="/" data-inject-target="BASE_URL"/>'
        "<title>Test Page</title><body><pre>\n// JAEGER_CONFIG_JS\n\n"
        "JAEGER_CONFIG = DEFAULT_CONFIG;\n\n"
        'JAEGER_STORAGE_CAPABILITIES = {"archiveStorage":false,"metricsStorage":false};\n\n'
        f"JAEGER_VERSION = {version};\n</pre></body></html>"
    )


def page_answer(text: str) -> httpx.Response:
    return httpx.Response(200, text=text, headers={"Content-Type": "text/html; charset=utf-8"})


def test_jaeger_release_build_reports_its_version_in_the_ui_page() -> None:
    info = {"gitCommit": "7a1c2f0", "gitVersion": "v2.13.0", "buildDate": "2025-12-03T10:00:00Z"}
    recorder = Recorder(lambda request: page_answer(jaeger_page(info)))
    assert JaegerBackend(recorder.client(), JAEGER + "/").version() == BuildInfo(
        version="v2.13.0",
        endpoint=f"{JAEGER}/",
        revision="7a1c2f0",
        build_date="2025-12-03T10:00:00Z",
    )
    (request,) = recorder.requests
    assert (request.method, request.url.path) == ("GET", "/")


def test_jaeger_under_a_base_path_is_asked_there() -> None:
    info = {"gitCommit": "", "gitVersion": "v2.13.0", "buildDate": ""}
    recorder = Recorder(lambda request: page_answer(jaeger_page(info)))
    found = JaegerBackend(recorder.client(), "http://proxy.test/jaeger").version()
    assert (found.version, found.revision, found.build_date) == ("v2.13.0", None, None)
    assert recorder.requests[0].url.path == "/jaeger/"


def test_jaeger_built_without_version_stamps_says_so() -> None:
    # what `jaeger version` of the local stack's `go build` prints, and so what its page holds
    empty = {"gitCommit": "", "gitVersion": "", "buildDate": ""}
    found = JaegerBackend(Recorder(lambda r: page_answer(jaeger_page(empty))).client(), JAEGER)
    info = found.version()
    assert (info.version, info.revision, info.build_date) == (None, None, None)
    assert info.details == {"note": UNSTAMPED}
    assert "-ldflags" in UNSTAMPED


@pytest.mark.parametrize(
    ("page", "reason"),
    [
        (jaeger_page(None), "no JAEGER_VERSION object"),  # never rewritten: not a query service
        ("<html>sign in to the proxy</html>", "no JAEGER_VERSION object"),
        ("JAEGER_VERSION = {not json};", "JSONDecodeError"),
    ],
)
def test_a_jaeger_page_without_build_information_is_malformed(page: str, reason: str) -> None:
    backend = JaegerBackend(Recorder(lambda r: page_answer(page)).client(), JAEGER)
    with pytest.raises(BackendError, match=f"^jaeger at {JAEGER}/: malformed answer: .*{reason}"):
        backend.version()


def prometheus(handler: Any) -> tuple[PrometheusBackend, RequestsTransport]:
    session = requests.Session()
    backend = PrometheusBackend(session, PROMETHEUS, timeout_s=2.0)
    transport = RequestsTransport(handler)
    session.mount(PROMETHEUS, transport)
    return backend, transport


BUILDINFO = {
    "status": "success",
    "data": {
        "version": "3.16.0",
        "revision": "v0.316.0",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "go1.24.6",
    },
}


def test_prometheus_reports_its_buildinfo() -> None:
    backend, transport = prometheus(lambda request: (200, BUILDINFO))
    assert backend.version() == BuildInfo(
        version="3.16.0",
        endpoint=f"{PROMETHEUS}/api/v1/status/buildinfo",
        revision="v0.316.0",
        build_date=None,  # empty in the answer: not a date
        details={"go_version": "go1.24.6"},
    )
    (request,) = transport.requests
    assert request.url == f"{PROMETHEUS}/api/v1/status/buildinfo"


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (503, b"Service Unavailable", "HTTP 503"),
        (200, b"<html>", "not JSON"),
        (200, {"status": "error", "error": "x"}, "status is 'error'"),
        (200, {"status": "success", "data": []}, "'data' is list"),
        (200, {"status": "success", "data": {"revision": "x"}}, "KeyError"),
        (200, {"status": "success", "data": {"version": 3}}, "3 is not a string"),
    ],
)
def test_prometheus_buildinfo_failures_are_backend_errors(
    status: int, body: Any, reason: str
) -> None:
    backend, _ = prometheus(lambda request: (status, body))
    where = f"^prometheus at {PROMETHEUS}/api/v1/status/buildinfo: "
    with pytest.raises(BackendError, match=where) as caught:
        backend.version()
    assert reason in caught.value.reason


def test_prometheus_unreachable_is_a_backend_error() -> None:
    def refuse(request: requests.PreparedRequest) -> tuple[int, Any]:
        raise requests.ConnectionError("connection refused")

    backend, _ = prometheus(refuse)
    with pytest.raises(BackendError, match="ConnectionError: connection refused"):
        backend.version()


def test_alertmanager_reports_its_version_info() -> None:
    status = json.loads((DATA / "alertmanager-0.25-status.json").read_text())
    recorder = Recorder(lambda request: httpx.Response(200, json=status))
    assert AlertmanagerBackend(recorder.client(), ALERTMANAGER).version() == BuildInfo(
        version="0.25.0",
        endpoint=f"{ALERTMANAGER}/api/v2/status",
        revision="0.25.0-1+b4",
        build_date="20230409-09:50:43",
        details={"branch": "debian/sid", "go_version": "go1.19.8"},
    )
    assert recorder.requests[0].url.path == "/api/v2/status"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"config": {}}, "KeyError: 'versionInfo'"),
        ({"versionInfo": "0.25.0"}, "'versionInfo' is str"),
        ({"versionInfo": {"version": None}}, "'versionInfo.version' is NoneType"),
        ([], "TypeError"),
    ],
)
def test_alertmanager_without_version_info_is_malformed(body: Any, reason: str) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=body))
    with pytest.raises(BackendError, match="malformed answer") as caught:
        AlertmanagerBackend(recorder.client(), ALERTMANAGER).version()
    assert reason in caught.value.reason


OPENSEARCH_ROOT = {
    "name": "chaosgate-node",
    "cluster_name": "chaosgate",
    "cluster_uuid": "x1",
    "version": {
        "distribution": "opensearch",
        "number": "2.19.6",
        "build_type": "tar",
        "build_hash": "unknown",
        "build_date": "unknown",
        "build_snapshot": False,
        "lucene_version": "9.12.1",
        "minimum_wire_compatibility_version": "7.10.0",
        "minimum_index_compatibility_version": "7.0.0",
    },
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}
ELASTICSEARCH_ROOT = {
    "name": "es-0",
    "cluster_name": "logs",
    "version": {
        "number": "8.15.0",
        "build_flavor": "default",
        "build_type": "docker",
        "build_hash": "1a77947f34deddb41af25e6f0ddb8e830159c179",
        "build_date": "2024-08-05T10:05:34.233336849Z",
        "build_snapshot": False,
        "lucene_version": "9.11.1",
    },
    "tagline": "You Know, for Search",
}


def test_opensearch_names_its_distribution_and_number_with_the_credential_sent() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=OPENSEARCH_ROOT))
    backend = ElasticsearchBackend(
        recorder.client(), ELASTICSEARCH, "restaurant-logs-*", {"Authorization": "ApiKey k"}
    )
    assert backend.version() == BuildInfo(
        version="2.19.6",
        endpoint=f"{ELASTICSEARCH}/",
        revision="unknown",
        build_date="unknown",
        details={
            "distribution": "opensearch",
            "lucene_version": "9.12.1",
            "tagline": "The OpenSearch Project: https://opensearch.org/",
        },
    )
    (request,) = recorder.requests
    assert request.url.path == "/"  # the root, not the index pattern
    assert request.headers["Authorization"] == "ApiKey k"


def test_elasticsearch_sends_no_distribution_and_is_named_by_its_product_header() -> None:
    recorder = Recorder(
        lambda request: httpx.Response(
            200, json=ELASTICSEARCH_ROOT, headers={"X-Elastic-Product": "Elasticsearch"}
        )
    )
    info = ElasticsearchBackend(recorder.client(), ELASTICSEARCH, "logs-*").version()
    assert info.version == "8.15.0"
    assert info.details == {
        "distribution": "elasticsearch",
        "build_flavor": "default",
        "lucene_version": "9.11.1",
        "tagline": "You Know, for Search",
        "product_header": "Elasticsearch",
    }
    assert info.revision == "1a77947f34deddb41af25e6f0ddb8e830159c179"


@pytest.mark.parametrize(
    "body", [{"name": "x"}, {"version": "8.15.0"}, {"version": {"number": 8}}, ["8.15.0"]]
)
def test_a_root_without_a_version_number_is_malformed(body: Any) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=body))
    backend = ElasticsearchBackend(recorder.client(), ELASTICSEARCH, "logs-*")
    reason = re.escape("malformed answer: no string 'version.number'")
    with pytest.raises(BackendError, match=reason):
        backend.version()


@pytest.mark.parametrize("kind", FAILURES)
def test_transport_failures_of_version_reads_are_backend_errors(kind: str) -> None:
    client = Recorder(failing(kind)).client()
    readers = {
        "jaeger": JaegerBackend(client, JAEGER).version,
        "alertmanager": AlertmanagerBackend(client, ALERTMANAGER).version,
        "elasticsearch": ElasticsearchBackend(client, ELASTICSEARCH, "logs-*").version,
    }
    for name, read in readers.items():
        with pytest.raises(BackendError, match=f"^{name} at ") as caught:
            read()
        if kind == "not-json" and name == "jaeger":  # a page, not JSON: read as a page
            assert "no JAEGER_VERSION" in caught.value.reason


@pytest.mark.parametrize(
    ("tagline", "header", "product"),
    [
        ("You Know, for Search", None, "elasticsearch"),  # before 7.14: no header yet
        ("Some other search", "Elasticsearch", "elasticsearch"),
        ("Some other search", None, "unknown"),  # neither mark: not called Elasticsearch
        ("You Know, for Search", "Other", "elasticsearch"),
    ],
)
def test_a_store_without_a_distribution_is_named_by_its_header_or_tagline(
    tagline: str, header: str | None, product: str
) -> None:
    root = {**ELASTICSEARCH_ROOT, "tagline": tagline}
    headers = {"X-Elastic-Product": header} if header else {}
    recorder = Recorder(lambda request: httpx.Response(200, json=root, headers=headers))
    info = ElasticsearchBackend(recorder.client(), ELASTICSEARCH, "logs-*").version()
    assert info.details["distribution"] == product
