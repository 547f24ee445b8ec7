from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.unit.services.support import Services, ServiceUnderTest, metric_value

ORDER = {"table": 4, "items": [{"menu_id": 1, "quantity": 2}, {"menu_id": 9, "quantity": 1}]}
ORDER_TOTAL = 2 * 1150 + 390


def _place(orders: ServiceUnderTest, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = orders.client().post("/api/orders", json=body or ORDER)
    assert response.status_code == 201, response.json
    order: dict[str, Any] = response.get_json()
    return order


def test_menu_is_seeded_with_priced_dishes(services: Services) -> None:
    response = services.orders().client().get("/api/menu")
    assert response.status_code == 200
    assert response.json is not None
    items = response.json["items"]
    assert len(items) == 10
    assert all(set(item) == {"id", "name", "price_cents"} for item in items)
    assert all(isinstance(item["price_cents"], int) and item["price_cents"] > 0 for item in items)


def test_order_is_accepted_with_its_total(services: Services) -> None:
    orders = services.orders()
    order = _place(orders, {**ORDER, "user_id": 7})
    assert order["status"] == "accepted"
    assert order["total_cents"] == ORDER_TOTAL
    assert (order["table"], order["user_id"], order["paid"]) == (4, 7, False)
    assert [(i["menu_id"], i["quantity"]) for i in order["items"]] == [(1, 2), (9, 1)]
    fetched = orders.client().get(f"/api/orders/{order['id']}")
    assert fetched.status_code == 200
    assert fetched.json == order
    assert metric_value(orders.metrics(), "orders_created_total", service="orders") == 1.0


def test_order_walks_the_status_line_and_nothing_else(services: Services) -> None:
    orders = services.orders()
    client = orders.client()
    order_id = _place(orders)["id"]
    url = f"/api/orders/{order_id}/status"
    assert client.patch(url, json={"status": "ready"}).status_code == 409  # skips preparing
    assert client.patch(url, json={"status": "accepted"}).status_code == 409  # no change
    for status in ("preparing", "ready", "served"):
        response = client.patch(url, json={"status": status})
        assert response.status_code == 200, response.json
        assert response.json is not None and response.json["status"] == status
    for status in ("accepted", "preparing", "ready", "served"):
        refused = client.patch(url, json={"status": status})
        assert refused.status_code == 409
        assert refused.json is not None and "served" in refused.json["error"]
    assert client.get(f"/api/orders/{order_id}").json["status"] == "served"  # type: ignore[index]


def test_unknown_status_is_a_bad_request_and_unknown_order_a_404(services: Services) -> None:
    client = services.orders().client()
    assert client.patch("/api/orders/1/status", json={"status": "eaten"}).status_code == 400
    assert client.patch("/api/orders/999/status", json={"status": "preparing"}).status_code == 404
    assert client.get("/api/orders/999").status_code == 404


def test_unknown_menu_id_is_invalid_and_counted(services: Services) -> None:
    orders = services.orders()
    response = orders.client().post(
        "/api/orders", json={"table": 1, "items": [{"menu_id": 999, "quantity": 1}]}
    )
    assert response.status_code == 400
    assert response.json is not None and "999" in response.json["error"]
    text = orders.metrics()
    assert metric_value(text, "orders_failed_total", service="orders", reason="invalid") == 1.0
    assert metric_value(text, "orders_created_total", service="orders") == 0.0


@pytest.mark.parametrize(
    "body",
    [
        {"items": [{"menu_id": 1, "quantity": 1}]},
        {"table": 0, "items": [{"menu_id": 1, "quantity": 1}]},
        {"table": "3", "items": [{"menu_id": 1, "quantity": 1}]},
        {"table": True, "items": [{"menu_id": 1, "quantity": 1}]},
        {"table": 1, "items": []},
        {"table": 1, "items": "pizza"},
        {"table": 1, "items": [{"menu_id": 1, "quantity": 0}]},
        {"table": 1, "items": [{"menu_id": 1}]},
        {"table": 1, "items": [7]},
        {"table": 1, "items": [{"menu_id": 1, "quantity": 1}], "user_id": "me"},
        [1, 2],
    ],
)
def test_bad_order_bodies_are_400_and_counted_invalid(services: Services, body: object) -> None:
    orders = services.orders()
    response = orders.client().post("/api/orders", json=body)
    assert response.status_code == 400
    assert response.json is not None and response.json["error"]
    assert metric_value(orders.metrics(), "orders_failed_total", reason="invalid") == 1.0


def test_non_json_body_is_400(services: Services) -> None:
    response = services.orders().client().post("/api/orders", data="table=1")
    assert response.status_code == 400


def test_payment_must_match_the_total_and_happens_once(services: Services) -> None:
    orders = services.orders()
    client = orders.client()
    order_id = _place(orders)["id"]
    url = f"/api/orders/{order_id}/payment"
    wrong = client.post(url, json={"amount_cents": ORDER_TOTAL - 1, "method": "card"})
    assert wrong.status_code == 400
    paid = client.post(url, json={"amount_cents": ORDER_TOTAL, "method": "card"})
    assert paid.status_code == 201
    assert paid.json is not None and paid.json["paid"] is True
    assert paid.json["payment"]["amount_cents"] == ORDER_TOTAL
    again = client.post(url, json={"amount_cents": ORDER_TOTAL, "method": "cash"})
    assert again.status_code == 409
    assert client.post(url, json={"amount_cents": ORDER_TOTAL}).status_code == 400
    missing = client.post("/api/orders/999/payment", json={"amount_cents": 1, "method": "card"})
    assert missing.status_code == 404


def test_concurrent_orders_all_succeed(services: Services) -> None:
    orders = services.orders(db_pool_size=4)
    statuses: list[int] = []
    lock = threading.Lock()

    def place_five() -> None:
        client = orders.client()
        for _ in range(5):
            status = client.post("/api/orders", json=ORDER).status_code
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=place_five) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [201] * 40
    assert metric_value(orders.metrics(), "orders_created_total") == 40.0
