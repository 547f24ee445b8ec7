"""One access log line and one metrics observation per request, with the route that matched.

A request whose connection an injected fault dropped has neither: it was never answered.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from restaurant.common.connection_drop import connection_dropped
from restaurant.common.logs import ServiceLogs
from restaurant.common.metrics import METRICS_PATH, ServiceMetrics

__all__ = ["UNMATCHED_ROUTE", "current_route", "install_access"]

UNMATCHED_ROUTE = "<unmatched>"
_START_KEY = "restaurant_started_at"


def current_route() -> str:
    """The URL rule that matched (``/api/orders/<int:order_id>``), else ``<unmatched>``."""
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


def install_access(app: Flask, logs: ServiceLogs, metrics: ServiceMetrics) -> None:
    """Register early: the clock starts before the other hooks and the line is written last."""

    @app.before_request
    def _start_clock() -> None:
        setattr(g, _START_KEY, time.perf_counter())

    @app.after_request
    def _access_line(response: Response) -> Response:
        if connection_dropped():
            return response  # never answered: no status to log or count (faults logged it)
        started = g.get(_START_KEY)
        duration_s = time.perf_counter() - started if isinstance(started, float) else 0.0
        route = current_route()
        status = response.status_code
        if request.path != METRICS_PATH:
            metrics.observe_request(request.method, route, status, duration_s)
        level = (
            logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
        )
        duration_ms = round(duration_s * 1000, 3)
        logs.access.log(
            level,
            "%s %s %d %.1f ms",
            request.method,
            request.path,
            status,
            duration_ms,
            extra={
                "http": {
                    "method": request.method,
                    "route": route,
                    "path": request.path,
                    "status_code": status,
                    "duration_ms": duration_ms,
                }
            },
        )
        return response
