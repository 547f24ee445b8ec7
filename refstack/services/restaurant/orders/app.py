"""The order service: the menu, orders along accepted → preparing → ready → served, payments.

Run: ``python -m gunicorn -b 127.0.0.1:8081 -w 1 -k gthread --threads 16
'restaurant.orders.app:create_app()'`` with the environment of refstack/CONTRACT.md.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request
from opentelemetry.sdk.trace.export import SpanExporter

from restaurant.common.connection_drop import connection_dropped
from restaurant.common.errors import ApiError
from restaurant.common.logs import format_timestamp
from restaurant.common.payload import (
    json_object,
    optional_int,
    require_int,
    require_str,
)
from restaurant.common.runtime import Runtime
from restaurant.common.service import build_service_app
from restaurant.common.settings import Settings
from restaurant.orders import store

__all__ = ["FAILURE_REASONS", "MAX_ITEMS", "create_app"]

MAX_ITEMS = 50
FAILURE_REASONS = ("invalid", "unavailable", "error")


def create_app(
    settings: Settings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    runtime: Runtime | None = None,
) -> Flask:
    settings = settings or Settings.from_env("orders")
    app, service = build_service_app(
        settings, span_exporter=span_exporter, runtime=runtime, with_database=True
    )
    database = service.database
    assert database is not None
    store.prepare_database(database.engine)
    clock = service.runtime.clock
    name = settings.service_name
    created = service.metrics.counter("orders_created_total", "Orders accepted.").labels(name)
    failed = service.metrics.counter(
        "orders_failed_total", "Order creations that failed, by reason.", ["reason"]
    )
    for reason in FAILURE_REASONS:
        failed.labels(name, reason)

    @app.after_request
    def _count_order_outcome(response: Response) -> Response:
        """invalid = 400, unavailable = 503 (database), error = any other 5xx (injected too);
        a dropped connection was never answered and is not an outcome of the service's."""
        if request.endpoint == "create_order" and not connection_dropped():
            status = response.status_code
            if status == 201:
                created.inc()
            elif status == 400:
                failed.labels(name, "invalid").inc()
            elif status == 503:
                failed.labels(name, "unavailable").inc()
            elif status >= 500:
                failed.labels(name, "error").inc()
        return response

    @app.get("/api/menu")
    def menu() -> Response:
        with database.transaction() as conn:
            return jsonify(items=store.list_menu(conn))

    @app.post("/api/orders")
    def create_order() -> tuple[Response, int]:
        body = json_object()
        table = require_int(body, "table", minimum=1)
        items = _order_items(body)
        user_id = optional_int(body, "user_id", minimum=1)
        with database.transaction(write=True) as conn:
            order = store.create_order(
                conn, table=table, items=items, user_id=user_id, now=format_timestamp(clock())
            )
        service.logs.app.info(
            "order %s accepted: table %s, %d items, %d cents",
            order["id"],
            table,
            len(items),
            order["total_cents"],
        )
        return jsonify(order), 201

    @app.get("/api/orders/<int:order_id>")
    def get_order(order_id: int) -> Response:
        with database.transaction() as conn:
            return jsonify(store.get_order(conn, order_id))

    @app.patch("/api/orders/<int:order_id>/status")
    def set_status(order_id: int) -> Response:
        status = require_str(json_object(), "status", max_length=32)
        with database.transaction(write=True) as conn:
            order = store.advance_status(conn, order_id, status, now=format_timestamp(clock()))
        service.logs.app.info("order %s is now %s", order_id, status)
        return jsonify(order)

    @app.post("/api/orders/<int:order_id>/payment")
    def pay(order_id: int) -> tuple[Response, int]:
        body = json_object()
        amount = require_int(body, "amount_cents", minimum=1)
        method = require_str(body, "method", max_length=32)
        with database.transaction(write=True) as conn:
            order = store.pay_order(
                conn, order_id, amount_cents=amount, method=method, now=format_timestamp(clock())
            )
        service.logs.app.info("order %s paid: %d cents by %s", order_id, amount, method)
        return jsonify(order), 201

    return app


def _order_items(body: dict[str, Any]) -> list[tuple[int, int]]:
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise ApiError(
            400, f"'items' must be a list of 1 to {MAX_ITEMS} {{menu_id, quantity}}, got {items!r}"
        )
    parsed = []
    for index, item in enumerate(items):
        where = f"items[{index}]."
        if not isinstance(item, dict):
            raise ApiError(
                400, f"items[{index}] must be an object {{menu_id, quantity}}, got {item!r}"
            )
        parsed.append(
            (
                require_int(item, "menu_id", minimum=1, where=where),
                require_int(item, "quantity", minimum=1, where=where),
            )
        )
    return parsed
