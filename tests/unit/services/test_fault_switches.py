"""The fault switches chaos experiments rely on: methods, held connections, dropped connections.

In-process (Flask's test client); the drop is given a real socket pair as its connection, the
way gunicorn passes the client socket in ``environ["gunicorn.socket"]``, so the peer really
sees the connection shut. tests/unit/services/test_gunicorn_faults.py does the same under a
real gunicorn.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from restaurant.common.runtime import Runtime
from restaurant.common.service import service_of
from werkzeug.test import TestResponse

from tests.unit.services.support import Services, ServiceUnderTest, WsgiTransport, metric_value

ORDER = {"table": 1, "items": [{"menu_id": 1, "quantity": 1}]}
USER = {"name": "Ada", "email": "ada@example.com"}


def _in_use(service: ServiceUnderTest) -> float | None:
    return metric_value(service.metrics(), "db_pool_in_use")


def test_methods_limit_the_fault_to_order_creations(services: Services) -> None:
    orders = services.orders(admin_faults=True)
    client = orders.client()
    answer = client.put(
        "/admin/faults",
        json={"error_ratio": 1.0, "route_prefix": "/api/orders", "methods": ["post"]},
    )
    assert answer.status_code == 200
    assert answer.json is not None and answer.json["methods"] == ["POST"]
    assert client.get("/api/menu").status_code == 200  # outside the prefix
    assert client.get("/api/orders/999").status_code == 404  # a GET: the handler answered
    created = client.post("/api/orders", json=ORDER)
    assert created.status_code == 500 and created.json == {"error": "injected fault"}
    text = orders.metrics()
    assert metric_value(text, "orders_failed_total", reason="error") == 1.0
    every = client.put("/admin/faults", json={"methods": None})
    assert every.json is not None and every.json["methods"] is None
    assert client.get("/api/orders/999").status_code == 500  # now every method


@pytest.fixture
def pool_of_two(services: Services) -> ServiceUnderTest:
    return services.orders(admin_faults=True, db_pool_size=2, db_pool_timeout_s=0.05)


def test_held_connections_exhaust_the_pool_without_any_request(
    pool_of_two: ServiceUnderTest,
) -> None:
    orders = pool_of_two
    client = orders.client()
    leak = service_of(orders.app).faults.leak
    assert leak is not None
    assert client.put("/admin/faults", json={"db_hold_connections": 2}).status_code == 200
    assert leak.wait_held(2, timeout_s=10)
    assert _in_use(orders) == 2.0  # the gauge reads the pool itself
    starved = client.get("/api/menu")
    assert starved.status_code == 503
    assert starved.json is not None and "pool exhausted" in starved.json["error"]

    assert client.put("/admin/faults", json={"db_hold_connections": 1}).status_code == 200
    assert leak.wait_held(1, timeout_s=10)
    assert _in_use(orders) == 1.0
    assert client.get("/api/menu").status_code == 200  # one connection is free again

    assert client.delete("/admin/faults").status_code == 200
    assert leak.wait_held(0, timeout_s=10)
    assert _in_use(orders) == 0.0
    warnings = [line["message"] for line in orders.log_lines() if line["level"] == "WARNING"]
    assert any("holding 2 of the pool's 2 connections" in message for message in warnings)


def test_held_connections_wait_while_the_pool_is_busy(services: Services) -> None:
    holding, release = threading.Event(), threading.Event()

    def blocking_sleep(_seconds: float) -> None:
        holding.set()
        assert release.wait(timeout=30), "the test never released the request's connection"

    orders = services.orders(
        Runtime(sleep=blocking_sleep), admin_faults=True, db_pool_size=1, db_pool_timeout_s=0.05
    )
    client = orders.client()
    leak = service_of(orders.app).faults.leak
    assert leak is not None
    client.put("/admin/faults", json={"db_hold_ms": 1000})
    first: list[TestResponse] = []
    request = threading.Thread(target=lambda: first.append(orders.client().get("/api/menu")))
    request.start()
    try:
        assert holding.wait(timeout=30)  # the request has the pool's only connection
        client.put("/admin/faults", json={"db_hold_ms": 0, "db_hold_connections": 1})
        assert not leak.wait_held(1, timeout_s=0.3)  # it waits (and retries) meanwhile
    finally:
        release.set()
        request.join(timeout=30)
    assert [response.status_code for response in first] == [200]
    assert leak.wait_held(1, timeout_s=10)
    assert _in_use(orders) == 1.0
    assert client.get("/api/menu").status_code == 503
    client.put("/admin/faults", json={"db_hold_connections": 0})
    assert leak.wait_held(0, timeout_s=10)
    assert client.get("/api/menu").status_code == 200


def test_held_connections_need_a_database(services: Services, transport: WsgiTransport) -> None:
    gateway = services.gateway(transport, admin_faults=True)
    refused = gateway.client().put("/admin/faults", json={"db_hold_connections": 1})
    assert refused.status_code == 400
    assert refused.json is not None and "needs a database" in refused.json["error"]
    assert gateway.client().put("/admin/faults", json={"db_hold_connections": 0}).status_code == 200


def test_more_connections_than_the_pool_has_are_refused(pool_of_two: ServiceUnderTest) -> None:
    refused = pool_of_two.client().put("/admin/faults", json={"db_hold_connections": 3})
    assert refused.status_code == 400
    assert refused.json is not None
    assert "from 0 to the pool size 2" in refused.json["error"]
    assert "got 3" in refused.json["error"]


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(the server's end, the client's end) of a real connected socket pair."""
    server, client = socket.socketpair()
    client.settimeout(5)
    yield server, client
    server.close()
    client.close()


def test_dropped_connection_is_shut_unanswered_and_not_counted(
    services: Services, connection: tuple[socket.socket, socket.socket]
) -> None:
    server_end, client_end = connection
    users = services.users(admin_faults=True)
    client = users.client()
    client.put("/admin/faults", json={"drop_connection_ratio": 1.0, "route_prefix": "/api/users"})
    client.post("/api/users", json=USER, environ_base={"gunicorn.socket": server_end})
    assert client_end.recv(1024) == b""  # the peer reads end-of-stream: no answer comes
    with pytest.raises(OSError):
        server_end.sendall(b"HTTP/1.1 500 ...")  # what gunicorn then meets: EPIPE

    text = users.metrics()
    assert metric_value(text, "http_requests_total", route="/api/users") is None
    assert "/api/users" not in [line["http"]["path"] for line in users.access_lines()]
    assert "/admin/faults" in [line["http"]["path"] for line in users.access_lines()]
    warnings = [line for line in users.log_lines() if line["level"] == "WARNING"]
    assert any("dropped the connection of POST /api/users" in w["message"] for w in warnings)


def test_a_dropped_order_creation_is_no_outcome_of_the_orders_service(
    services: Services, connection: tuple[socket.socket, socket.socket]
) -> None:
    server_end, client_end = connection
    orders = services.orders(admin_faults=True)
    client = orders.client()
    client.put("/admin/faults", json={"drop_connection_ratio": 1.0, "methods": ["POST"]})
    client.post("/api/orders", json=ORDER, environ_base={"gunicorn.socket": server_end})
    assert client_end.recv(1024) == b""
    assert client.get("/api/menu").status_code == 200  # a GET is not dropped
    text = orders.metrics()
    assert metric_value(text, "orders_failed_total", reason="error") == 0.0
    assert metric_value(text, "orders_created_total") == 0.0


def test_drop_and_error_draw_in_turn(services: Services) -> None:
    draws = iter([0.9, 0.1])  # no drop (0.9 >= 0.5), then an error (0.1 < 0.5)
    users = services.users(Runtime(random=lambda: next(draws)), admin_faults=True)
    client = users.client()
    client.put("/admin/faults", json={"drop_connection_ratio": 0.5, "error_ratio": 0.5})
    assert client.post("/api/users", json=USER).json == {"error": "injected fault"}


def test_drop_without_a_client_socket_says_so(services: Services) -> None:
    users = services.users(admin_faults=True)
    client = users.client()
    client.put("/admin/faults", json={"drop_connection_ratio": 1.0})
    answer = client.post("/api/users", json=USER)  # Flask's test client exposes no socket
    assert answer.status_code == 500
    assert answer.json is not None and "unsupported" in answer.json["error"]
    errors = [line["message"] for line in users.log_lines() if line["level"] == "ERROR"]
    assert any("exposes no client socket (gunicorn.socket)" in message for message in errors)
