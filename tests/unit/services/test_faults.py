"""The admin fault endpoint and what each fault does (refstack/CONTRACT.md "Admin faults")."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from restaurant.common.runtime import Runtime
from werkzeug.test import TestResponse

from tests.unit.services.support import Services, WsgiTransport, metric_value

ORDER = {"table": 1, "items": [{"menu_id": 1, "quantity": 1}]}
DEFAULTS = {
    "latency_ms": 0,
    "error_ratio": 0.0,
    "route_prefix": "/api",
    "methods": None,
    "db_hold_ms": 0,
    "db_hold_connections": 0,
    "drop_connection_ratio": 0.0,
    "drop_spans": False,
    "log_lines_per_s": 0,
}


def test_admin_endpoint_is_404_unless_enabled(services: Services) -> None:
    client = services.orders().client()
    assert client.get("/admin/faults").status_code == 404
    assert client.put("/admin/faults", json={"error_ratio": 1.0}).status_code == 404
    assert client.delete("/admin/faults").status_code == 404
    assert client.get("/api/menu").status_code == 200


def test_put_merges_a_subset_and_delete_clears(services: Services) -> None:
    client = services.users(admin_faults=True).client()
    assert client.get("/admin/faults").json == DEFAULTS
    first = client.put("/admin/faults", json={"latency_ms": 200})
    assert first.json == {**DEFAULTS, "latency_ms": 200}
    second = client.put("/admin/faults", json={"error_ratio": 0.5, "route_prefix": "/api/users"})
    expected = {**DEFAULTS, "latency_ms": 200, "error_ratio": 0.5, "route_prefix": "/api/users"}
    assert second.json == expected
    assert client.get("/admin/faults").json == expected
    assert client.delete("/admin/faults").json == DEFAULTS
    assert client.get("/admin/faults").json == DEFAULTS


@pytest.mark.parametrize(
    "body",
    [
        {"latency": 100},
        {"latency_ms": -1},
        {"latency_ms": 60_001},
        {"latency_ms": 1.5},
        {"latency_ms": True},
        {"error_ratio": 1.5},
        {"error_ratio": "all"},
        {"route_prefix": "api"},
        {"db_hold_ms": -5},
        {"error_ratio": 1.0, "bogus": 1},
        {"drop_spans": "yes"},
        {"methods": []},
        {"methods": "POST"},
        {"methods": ["FETCH"]},
        {"methods": [1]},
        {"db_hold_connections": 6},
        {"db_hold_connections": -1},
        {"db_hold_connections": 2.0},
        {"db_hold_connections": True},
        {"drop_connection_ratio": 1.1},
        {"drop_connection_ratio": "half"},
        ["error_ratio"],
    ],
)
def test_bad_fault_settings_are_400_and_change_nothing(services: Services, body: Any) -> None:
    client = services.orders(admin_faults=True).client()
    response = client.put("/admin/faults", json=body)
    assert response.status_code == 400
    assert response.json is not None and response.json["error"]
    assert client.get("/admin/faults").json == DEFAULTS


def test_error_ratio_one_answers_500_counted_in_http_requests_total(services: Services) -> None:
    orders = services.orders(admin_faults=True)
    client = orders.client()
    assert client.put("/admin/faults", json={"error_ratio": 1.0}).status_code == 200
    for _ in range(3):
        response = client.get("/api/menu")
        assert response.status_code == 500
        assert response.json == {"error": "injected fault"}
    assert client.get("/healthz").status_code == 200  # outside the route prefix
    text = orders.metrics()  # the scrape itself is never faulted
    assert metric_value(text, "http_requests_total", route="/api/menu", status="500") == 3.0
    assert metric_value(text, "http_requests_total", route="/api/menu", status="200") is None
    failed_order = client.post("/api/orders", json=ORDER)
    assert failed_order.status_code == 500
    text = orders.metrics()
    assert metric_value(text, "orders_failed_total", reason="error") == 1.0
    assert client.delete("/admin/faults").status_code == 200
    assert client.get("/api/menu").status_code == 200


def test_error_ratio_draws_from_the_injected_randomness(services: Services) -> None:
    draws = iter([0.1, 0.9, 0.49, 0.5])
    iot = services.iot(Runtime(random=lambda: next(draws)), admin_faults=True)
    client = iot.client()
    client.put("/admin/faults", json={"error_ratio": 0.5})
    statuses = [client.get("/api/iot/devices").status_code for _ in range(4)]
    assert statuses == [500, 200, 500, 200]


def test_latency_sleeps_before_the_handler_only_under_the_prefix(services: Services) -> None:
    slept: list[float] = []
    iot = services.iot(Runtime(sleep=slept.append), admin_faults=True)
    client = iot.client()
    client.put("/admin/faults", json={"latency_ms": 250, "route_prefix": "/api/iot/devices"})
    assert client.get("/api/iot/devices").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert slept == [0.25]


def test_db_hold_with_pool_of_one_makes_a_concurrent_request_get_503(services: Services) -> None:
    holding, release = threading.Event(), threading.Event()

    def blocking_sleep(_seconds: float) -> None:
        if holding.is_set():
            return  # a second holder means the pool let it through: the asserts below fail
        holding.set()
        assert release.wait(timeout=30), "the test never released the held connection"

    orders = services.orders(
        Runtime(sleep=blocking_sleep), admin_faults=True, db_pool_size=1, db_pool_timeout_s=0.05
    )
    orders.client().put("/admin/faults", json={"db_hold_ms": 500})
    first: list[TestResponse] = []
    holder = threading.Thread(target=lambda: first.append(orders.client().get("/api/menu")))
    holder.start()
    try:
        assert holding.wait(timeout=30)
        text = orders.metrics()  # while the only connection is held
        assert metric_value(text, "db_pool_in_use") == 1.0
        assert metric_value(text, "db_pool_max_connections") == 1.0
        second = orders.client().post("/api/orders", json=ORDER)
    finally:
        release.set()
        holder.join(timeout=30)
    assert second.status_code == 503
    assert second.json is not None and "pool exhausted" in second.json["error"]
    assert [response.status_code for response in first] == [200]
    text = orders.metrics()
    assert metric_value(text, "http_requests_total", route="/api/orders", status="503") == 1.0
    assert metric_value(text, "orders_failed_total", reason="unavailable") == 1.0
    assert metric_value(text, "db_pool_in_use") == 0.0
    errors = [
        line for line in orders.log_lines() if line["level"] == "ERROR" and "http" not in line
    ]
    assert any("pool exhausted" in line["message"] and line["trace_id"] for line in errors)


def test_db_hold_is_refused_where_there_is_no_database(
    services: Services, transport: WsgiTransport
) -> None:
    gateway = services.gateway(transport, admin_faults=True)
    response = gateway.client().put("/admin/faults", json={"db_hold_ms": 100})
    assert response.status_code == 400
    assert response.json is not None and "db_hold_ms" in response.json["error"]
    assert gateway.client().put("/admin/faults", json={"db_hold_ms": 0}).status_code == 200


def test_drop_spans_stops_export_while_requests_are_served(services: Services) -> None:
    service = services.orders(admin_faults=True)
    client = service.client()
    assert client.get("/api/menu").status_code == 200
    exported_before = len(service.spans())
    assert exported_before > 0
    assert client.put("/admin/faults", json={"drop_spans": True}).status_code == 200
    assert client.get("/api/menu").status_code == 200
    assert len(service.spans()) == exported_before
    assert client.delete("/admin/faults").json == DEFAULTS
    assert client.get("/api/menu").status_code == 200
    assert len(service.spans()) > exported_before
