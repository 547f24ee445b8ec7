"""The API gateway: the public API, each route forwarded to the service that owns it.

Run: ``python -m gunicorn -b 127.0.0.1:8080 -w 1 -k gthread --threads 16
'restaurant.gateway.app:create_app()'`` with the environment of refstack/CONTRACT.md.

The gateway's routes mirror the upstreams' (so metrics and span names carry the real route);
a path no upstream serves is a 404 at the gateway. ``traceparent`` reaches the upstream through
the Requests instrumentation (the client span is its parent), ``X-Request-ID`` is set here.
"""

from __future__ import annotations

from collections.abc import Callable

import requests
from flask import Flask, Response
from opentelemetry.sdk.trace.export import SpanExporter

from restaurant.common.runtime import Runtime
from restaurant.common.service import build_service_app
from restaurant.common.settings import Settings
from restaurant.common.telemetry import instrument_requests
from restaurant.gateway.proxy import Proxy, Timeouts, default_session

__all__ = ["ROUTES", "create_app"]

# (rule, methods, upstream)
ROUTES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("/api/menu", ("GET",), "orders"),
    ("/api/orders", ("POST",), "orders"),
    ("/api/orders/<int:order_id>", ("GET",), "orders"),
    ("/api/orders/<int:order_id>/status", ("PATCH",), "orders"),
    ("/api/orders/<int:order_id>/payment", ("POST",), "orders"),
    ("/api/users", ("POST",), "users"),
    ("/api/users/<int:user_id>", ("GET",), "users"),
    ("/api/iot/devices", ("GET",), "iot"),
    ("/api/iot/devices/<device_id>", ("DELETE",), "iot"),
    ("/api/iot/devices/<device_id>/telemetry", ("POST",), "iot"),
    ("/api/iot/devices/<device_id>/heartbeat", ("POST",), "iot"),
)


def create_app(
    settings: Settings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    runtime: Runtime | None = None,
    session: requests.Session | None = None,
) -> Flask:
    """``session`` replaces the default one (tests mount a transport adapter on theirs)."""
    settings = settings or Settings.from_env("gateway")
    instrument_requests()
    app, service = build_service_app(settings, span_exporter=span_exporter, runtime=runtime)
    proxy = Proxy(
        session if session is not None else default_session(),
        {"orders": settings.orders_url, "users": settings.users_url, "iot": settings.iot_url},
        Timeouts(settings.upstream_connect_timeout_s, settings.upstream_read_timeout_s),
        service.metrics,
        service.logs.app,
    )
    for rule, methods, upstream in ROUTES:
        app.add_url_rule(
            rule,
            endpoint=f"{upstream}{rule}",
            view_func=_forwarder(proxy, upstream),
            methods=methods,
        )
    return app


def _forwarder(proxy: Proxy, upstream: str) -> Callable[..., Response]:
    def forward(**_route_values: object) -> Response:
        return proxy.forward(upstream)

    return forward
