"""Prometheus metrics: one registry per app (never the process-wide default), ``GET /metrics``.

Every metric carries ``service`` = SERVICE_NAME (refstack/CONTRACT.md). The scrape itself is not
counted in ``http_requests_total``: Prometheus scrapes every second and would dilute the error
ratios the alert rules compute.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)

__all__ = ["DURATION_BUCKETS", "METRICS_PATH", "ServiceMetrics", "install_metrics_endpoint"]

METRICS_PATH = "/metrics"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServiceMetrics:
    """The registry and the HTTP metrics every service has; services add their own."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests answered, by route and status code.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time from the request reaching the app to the response leaving it.",
            ["service", "method", "route"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter in this registry whose first label is ``service``."""
        return Counter(name, documentation, ["service", *labels], registry=self.registry)

    def observe_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        self.http_requests.labels(self.service, method, route, str(status)).inc()
        self.http_duration.labels(self.service, method, route).observe(duration_s)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def install_metrics_endpoint(app: Flask, metrics: ServiceMetrics) -> None:
    @app.get(METRICS_PATH)
    def prometheus_metrics() -> Response:
        return Response(metrics.render(), mimetype=None, content_type=CONTENT_TYPE_LATEST)
