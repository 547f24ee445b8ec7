"""Logs, traces and metrics every service promises in refstack/CONTRACT.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from opentelemetry.trace import SpanKind
from restaurant.common.service import close_app
from restaurant.common.settings import Settings, SettingsError
from restaurant.iot.app import create_app as create_iot
from restaurant.orders.app import create_app as create_orders

from tests.unit.services.support import (
    TRACEPARENT,
    TRACEPARENT_PARENT_ID,
    TRACEPARENT_TRACE_ID,
    Services,
    metric_value,
    trace_hex,
)

LOG_FIELDS = {
    "@timestamp",
    "service",
    "level",
    "logger",
    "message",
    "trace_id",
    "span_id",
    "request_id",
}
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def test_access_line_has_every_contract_field_and_the_active_trace(services: Services) -> None:
    orders = services.orders()
    response = orders.client().get("/api/menu", headers={"X-Request-ID": "req-123"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "req-123"
    (line,) = [line for line in orders.access_lines() if line["http"]["path"] == "/api/menu"]
    assert set(line) == LOG_FIELDS | {"http"}
    assert TIMESTAMP.fullmatch(line["@timestamp"])
    assert (line["service"], line["level"], line["request_id"]) == ("orders", "INFO", "req-123")
    assert line["http"]["method"] == "GET"
    assert line["http"]["route"] == "/api/menu"
    assert line["http"]["status_code"] == 200
    assert isinstance(line["http"]["duration_ms"], float) and line["http"]["duration_ms"] >= 0
    (server,) = [span for span in orders.spans() if span.kind is SpanKind.SERVER]
    assert server.context is not None
    assert line["trace_id"] == trace_hex(server)
    assert line["span_id"] == f"{server.context.span_id:016x}"


def test_every_log_line_is_json_with_the_contract_fields(services: Services) -> None:
    orders = services.orders()
    orders.client().post("/api/orders", json={"table": 1, "items": [{"menu_id": 2, "quantity": 1}]})
    lines = orders.log_lines()
    assert len(lines) >= 3  # startup, "order accepted", access
    assert all(set(line) >= LOG_FIELDS for line in lines)
    (accepted,) = [line for line in lines if line["message"].startswith("order 1 accepted")]
    (access,) = orders.access_lines()
    assert accepted["trace_id"] == access["trace_id"] != ""
    assert accepted["request_id"] == access["request_id"] != ""
    assert lines[0]["trace_id"] == "" and lines[0]["request_id"] == ""  # startup: no request


def test_incoming_traceparent_is_continued_in_spans_and_logs(services: Services) -> None:
    orders = services.orders()
    response = orders.client().get("/api/orders/1", headers={"traceparent": TRACEPARENT})
    assert response.status_code == 404
    (server,) = [span for span in orders.spans() if span.kind is SpanKind.SERVER]
    assert trace_hex(server) == TRACEPARENT_TRACE_ID
    assert server.parent is not None and f"{server.parent.span_id:016x}" == TRACEPARENT_PARENT_ID
    assert server.name == "GET /api/orders/<int:order_id>"
    (line,) = orders.access_lines()
    assert line["trace_id"] == TRACEPARENT_TRACE_ID


def test_database_spans_are_children_of_the_server_span(services: Services) -> None:
    orders = services.orders()
    order = {"table": 2, "items": [{"menu_id": 3, "quantity": 1}]}
    assert orders.client().post("/api/orders", json=order).status_code == 201
    spans = orders.spans()
    (server,) = [span for span in spans if span.kind is SpanKind.SERVER]
    db_spans = [span for span in spans if span.attributes and "db.system" in span.attributes]
    assert server.context is not None
    assert len(db_spans) >= 3  # menu prices, insert order, insert items, read back
    assert {span.name.split()[0] for span in db_spans} >= {"SELECT", "INSERT"}
    for span in db_spans:
        assert span.parent is not None and span.parent.span_id == server.context.span_id
        assert trace_hex(span) == trace_hex(server)


def test_http_metrics_carry_service_method_route_and_status(services: Services) -> None:
    orders = services.orders()
    client = orders.client()
    client.get("/api/orders/5")
    client.get("/api/orders/6")
    client.get("/api/menu")
    client.get("/nowhere")
    orders.metrics()
    text = orders.metrics()  # the first scrape is behind it: it would show if scrapes counted
    route = "/api/orders/<int:order_id>"
    assert (
        metric_value(
            text, "http_requests_total", service="orders", method="GET", route=route, status="404"
        )
        == 2.0
    )
    assert (
        metric_value(text, "http_requests_total", service="orders", route="/api/menu", status="200")
        == 1.0
    )
    assert metric_value(text, "http_requests_total", route="<unmatched>", status="404") == 1.0
    count = "http_request_duration_seconds_count"
    assert metric_value(text, count, service="orders", method="GET", route=route) == 2.0
    buckets = set(re.findall(r'http_request_duration_seconds_bucket\{le="([^"]+)"', text))
    assert {"0.1", "0.25", "0.5", "1.0", "2.5"} <= buckets
    assert metric_value(text, "process_start_time_seconds") is not None
    assert (
        metric_value(text, "http_requests_total", route="/metrics") is None
    )  # scrapes not counted
    for gauge in (
        "db_pool_size",
        "db_pool_in_use",
        "db_pool_connections",
        "db_pool_max_connections",
    ):
        assert metric_value(text, gauge, service="orders") is not None


def test_pool_gauges_read_the_configured_pool(services: Services) -> None:
    orders = services.orders(db_pool_size=3)
    orders.client().get("/api/menu")
    text = orders.metrics()
    assert metric_value(text, "db_pool_size") == 3.0
    assert metric_value(text, "db_pool_max_connections") == 3.0
    assert metric_value(text, "db_pool_in_use") == 0.0
    assert metric_value(text, "db_pool_connections") == 1.0


def test_each_app_has_its_own_registry(services: Services) -> None:
    first, second = services.orders(), services.orders()
    first.client().get("/api/menu")
    assert metric_value(first.metrics(), "http_requests_total", route="/api/menu") == 1.0
    assert metric_value(second.metrics(), "http_requests_total", route="/api/menu") is None


def test_invalid_request_id_is_replaced(services: Services) -> None:
    response = services.users().client().get("/healthz", headers={"X-Request-ID": "bad id!"})
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])


def test_create_app_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVICE_NAME", "orders")
    monkeypatch.setenv("LOG_FILE", str(tmp_path / "logs" / "orders.log"))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'orders.db'}")
    monkeypatch.setenv("DB_POOL_SIZE", "2")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    app: Flask = create_orders()
    try:
        assert app.test_client().get("/healthz").json == {"service": "orders", "status": "ok"}
        assert app.test_client().get("/admin/faults").status_code == 404
        text = app.test_client().get("/metrics").get_data(as_text=True)
        assert metric_value(text, "db_pool_size", service="orders") == 2.0
    finally:
        close_app(app)
    assert (tmp_path / "logs" / "orders.log").read_text().count("\n") >= 2


def test_settings_from_env_defaults_and_errors(tmp_path: Path) -> None:
    settings = Settings.from_env("iot", {"LOG_FILE": str(tmp_path / "iot.log")})
    assert settings.service_name == "iot"
    assert (settings.db_pool_size, settings.db_pool_timeout_s) == (5, 2.0)
    assert settings.orders_url == "http://127.0.0.1:8081"
    assert settings.iot_offline_after_s == 10.0
    assert (settings.traces_exporter, settings.admin_faults) == ("otlp", False)
    with pytest.raises(SettingsError, match="LOG_FILE is not set"):
        Settings.from_env("iot", {})
    with pytest.raises(SettingsError, match="DB_POOL_SIZE is 'five'"):
        Settings.from_env("orders", {"LOG_FILE": "x.log", "DB_POOL_SIZE": "five"})
    with pytest.raises(SettingsError, match="OTEL_TRACES_EXPORTER is 'jaeger'"):
        Settings.from_env("orders", {"LOG_FILE": "x.log", "OTEL_TRACES_EXPORTER": "jaeger"})
    with pytest.raises(SettingsError, match="DATABASE_URL is not set"):
        Settings.from_env("orders", {"LOG_FILE": "x.log"}).require_database_url()


def test_service_without_database_has_no_pool_gauges(tmp_path: Path) -> None:
    settings = Settings(service_name="iot", log_file=tmp_path / "iot.log", traces_exporter="none")
    app = create_iot(settings)
    try:
        text = app.test_client().get("/metrics").get_data(as_text=True)
    finally:
        close_app(app)
    assert metric_value(text, "db_pool_size") is None
    assert metric_value(text, "iot_devices_online", service="iot") == 0.0
