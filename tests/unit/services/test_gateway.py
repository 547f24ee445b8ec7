"""The gateway in front of the real orders, users and iot apps, joined by a WSGI transport."""

from __future__ import annotations

import http.client

import pytest
import requests
import urllib3.exceptions
from opentelemetry.trace import SpanKind
from restaurant.gateway.proxy import classify_error

from tests.unit.services.support import (
    TRACEPARENT,
    TRACEPARENT_TRACE_ID,
    Services,
    ServiceUnderTest,
    WsgiTransport,
    metric_value,
    trace_hex,
)


@pytest.fixture
def stack(services: Services, transport: WsgiTransport) -> dict[str, ServiceUnderTest]:
    built = {"orders": services.orders(), "users": services.users(), "iot": services.iot()}
    for name, service in built.items():
        transport.apps[f"{name}.test"] = service.app
    built["gateway"] = services.gateway(transport)
    return built


def test_whole_api_through_the_gateway(stack: dict[str, ServiceUnderTest]) -> None:
    client = stack["gateway"].client()
    menu = client.get("/api/menu")
    assert menu.status_code == 200 and menu.json is not None and len(menu.json["items"]) == 10
    user = client.post("/api/users", json={"name": "Bo", "email": "bo@example.com"})
    assert user.status_code == 201 and user.json is not None
    assert client.get(f"/api/users/{user.json['id']}").json == user.json
    assert (
        client.post("/api/users", json={"name": "B", "email": "bo@example.com"}).status_code == 409
    )
    order = client.post(
        "/api/orders",
        json={"table": 2, "items": [{"menu_id": 10, "quantity": 3}], "user_id": user.json["id"]},
    )
    assert order.status_code == 201 and order.json is not None
    order_id, total = order.json["id"], order.json["total_cents"]
    assert client.get(f"/api/orders/{order_id}").status_code == 200
    for status in ("preparing", "ready", "served"):
        changed = client.patch(f"/api/orders/{order_id}/status", json={"status": status})
        assert changed.status_code == 200
    assert (
        client.patch(f"/api/orders/{order_id}/status", json={"status": "ready"}).status_code == 409
    )
    payment = {"amount_cents": total, "method": "card"}
    assert client.post(f"/api/orders/{order_id}/payment", json=payment).status_code == 201
    assert client.post(f"/api/orders/{order_id}/payment", json=payment).status_code == 409
    beat = client.post("/api/iot/devices/fr-1/heartbeat", json={"type": "fridge"})
    assert beat.status_code == 200
    reading = {"type": "fridge", "temperature_c": 4.0}
    assert client.post("/api/iot/devices/fr-1/telemetry", json=reading).status_code == 202
    devices = client.get("/api/iot/devices")
    assert devices.json is not None and devices.json["online"] == 1
    assert client.delete("/api/iot/devices/fr-1").status_code == 200
    assert client.delete("/api/iot/devices/fr-1").status_code == 404
    assert client.get("/api/nothing").status_code == 404
    text = stack["gateway"].metrics()
    assert metric_value(text, "gateway_upstream_requests_total", upstream="orders") == 9.0
    assert metric_value(text, "gateway_upstream_requests_total", upstream="users") == 3.0
    assert metric_value(text, "gateway_upstream_requests_total", upstream="iot") == 5.0
    assert (
        metric_value(
            text, "http_requests_total", service="gateway", route="/api/users", status="409"
        )
        == 1.0
    )


def test_trace_and_request_id_flow_from_gateway_to_the_database(
    stack: dict[str, ServiceUnderTest], transport: WsgiTransport
) -> None:
    gateway, orders = stack["gateway"], stack["orders"]
    response = gateway.client().get(
        "/api/menu", headers={"traceparent": TRACEPARENT, "X-Request-ID": "ledger-42"}
    )
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "ledger-42"
    (sent,) = transport.sent
    assert sent.headers["X-Request-ID"] == "ledger-42"

    gateway_spans = gateway.spans()
    (g_server,) = [s for s in gateway_spans if s.kind is SpanKind.SERVER]
    (g_client,) = [s for s in gateway_spans if s.kind is SpanKind.CLIENT]
    assert g_server.context is not None and g_client.context is not None
    assert trace_hex(g_server) == trace_hex(g_client) == TRACEPARENT_TRACE_ID
    assert g_client.parent is not None and g_client.parent.span_id == g_server.context.span_id
    assert sent.headers["traceparent"].split("-")[1:3] == [
        TRACEPARENT_TRACE_ID,
        f"{g_client.context.span_id:016x}",
    ]

    orders_spans = orders.spans()
    (o_server,) = [s for s in orders_spans if s.kind is SpanKind.SERVER]
    assert o_server.context is not None
    assert trace_hex(o_server) == TRACEPARENT_TRACE_ID
    assert o_server.parent is not None and o_server.parent.span_id == g_client.context.span_id
    db_spans = [s for s in orders_spans if s.kind is SpanKind.CLIENT]
    assert db_spans and all(
        s.parent is not None and s.parent.span_id == o_server.context.span_id for s in db_spans
    )
    for service in (gateway, orders):
        (line,) = service.access_lines()
        assert (line["trace_id"], line["request_id"]) == (TRACEPARENT_TRACE_ID, "ledger-42")


@pytest.mark.parametrize(
    ("failure", "status", "kind"),
    [
        (requests.ConnectionError("connection refused"), 502, "connect"),
        (requests.ReadTimeout("read timed out"), 504, "timeout"),
        (requests.ConnectTimeout("connect timed out"), 504, "timeout"),
        (
            requests.ConnectionError(
                urllib3.exceptions.ProtocolError(
                    "Connection aborted.", http.client.RemoteDisconnected("closed")
                )
            ),
            502,
            "reset",
        ),
    ],
)
def test_transport_failures_answer_json_and_are_counted(
    stack: dict[str, ServiceUnderTest],
    transport: WsgiTransport,
    failure: requests.RequestException,
    status: int,
    kind: str,
) -> None:
    transport.failures["users.test"] = failure
    gateway = stack["gateway"]
    response = gateway.client().get("/api/users/1")
    assert response.status_code == status
    assert response.json is not None and "'users'" in response.json["error"]
    assert gateway.client().get("/api/menu").status_code == 200  # other upstreams unaffected
    text = gateway.metrics()
    assert (
        metric_value(
            text, "gateway_upstream_errors_total", service="gateway", upstream="users", kind=kind
        )
        == 1.0
    )
    others = {"connect", "timeout", "reset"} - {kind}
    for other in others:
        assert (
            metric_value(text, "gateway_upstream_errors_total", upstream="users", kind=other) == 0.0
        )
    assert metric_value(text, "gateway_upstream_errors_total", upstream="orders", kind=kind) == 0.0
    assert (
        metric_value(
            text, "http_requests_total", route="/api/users/<int:user_id>", status=str(status)
        )
        == 1.0
    )
    (error_line,) = [
        line for line in gateway.log_lines() if line["level"] == "ERROR" and "http" not in line
    ]
    assert f"({kind})" in error_line["message"]


def test_classify_error_follows_the_cause_chain() -> None:
    refused = urllib3.exceptions.MaxRetryError(
        pool=None,  # type: ignore[arg-type]
        url="/",
        reason=urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
    )
    assert classify_error(requests.ConnectionError(refused)) == "connect"
    reset = urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "reset")
    )
    assert classify_error(requests.ConnectionError(reset)) == "reset"
    assert classify_error(requests.exceptions.ChunkedEncodingError("cut")) == "reset"
    assert classify_error(requests.ConnectTimeout("slow")) == "timeout"
