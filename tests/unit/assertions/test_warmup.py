"""The warm-up gate judges real answers: a dead or unhealthy part is never a pass."""

from __future__ import annotations

from typing import Any

import httpx
import requests

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.gateway import GatewayBackend
from assertions.backends.jaeger import JaegerBackend
from assertions.backends.prometheus import PrometheusBackend
from assertions.backends.sink import SinkBackend
from assertions.checks.warmup import WarmupBackends, check_warmup
from assertions.result import Status
from tests.unit.assertions.support import RequestsTransport

URL = "http://platform.test"
PROM = "http://prometheus.test"


def _healthy(request: httpx.Request, *, healthz: int = 200, menu: int = 200) -> httpx.Response:
    path = request.url.path
    if path == "/healthz":
        return httpx.Response(healthz, json={"status": "ok"})
    if path == "/api/menu":
        return httpx.Response(menu, json={"items": []})
    if path == "/api/traces":
        wanted = request.url.params.get_list("traceID")
        return httpx.Response(
            200,
            json={"data": [], "errors": [{"msg": "trace not found", "traceID": t} for t in wanted]},
        )
    if path.endswith("/_count"):
        return httpx.Response(200, json={"count": 3, "_shards": {"total": 1, "failed": 0}})
    if path == "/api/v2/alerts":
        return httpx.Response(200, json=[])
    if path == "/notifications":
        return httpx.Response(200, json={"notifications": []})
    return httpx.Response(404, text=f"unexpected {path}")


def _prometheus(_request: requests.PreparedRequest) -> tuple[int, Any]:
    return 200, {"status": "success", "data": {"resultType": "vector", "result": []}}


def _backends(client: httpx.Client) -> WarmupBackends:
    session = requests.Session()
    prometheus = PrometheusBackend(session, PROM)
    session.mount(PROM, RequestsTransport(_prometheus))
    return WarmupBackends(
        gateway=GatewayBackend(client, URL),
        jaeger=JaegerBackend(client, URL),
        elasticsearch=ElasticsearchBackend(client, URL, "restaurant-logs-*"),
        prometheus=prometheus,
        alertmanager=AlertmanagerBackend(client, URL),
        sink=SinkBackend(client, URL),
    )


def test_a_healthy_target_passes_every_warmup_check() -> None:
    client = httpx.Client(transport=httpx.MockTransport(_healthy))
    results = check_warmup(_backends(client), sleep=lambda _s: None)
    assert [(r.name, r.status) for r in results] == [
        (name, Status.PASSED)
        for name in (
            "warmup.gateway",
            "warmup.jaeger",
            "warmup.elasticsearch",
            "warmup.prometheus",
            "warmup.alertmanager",
            "warmup.sink",
            "warmup.steady_state",
        )
    ]


def test_an_unhealthy_gateway_is_not_a_pass() -> None:
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: _healthy(r, healthz=503, menu=500))
    )
    results = {r.name: r for r in check_warmup(_backends(client), sleep=lambda _s: None)}
    assert results["warmup.gateway"].status is Status.ERROR
    assert "HTTP 503" in results["warmup.gateway"].reason
    assert results["warmup.steady_state"].status is Status.FAILED
    assert results["warmup.steady_state"].observed == [500] * 5


def test_jaeger_is_really_asked() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        return _healthy(request)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    check_warmup(_backends(client), sleep=lambda _s: None)
    assert "/api/traces" in asked
