"""Helpers for the restaurant services' unit tests: apps built in-process, no network.

The gateway reaches the other apps through :class:`WsgiTransport`, a ``requests`` transport
adapter that hands each prepared request to a Flask app's WSGI interface (or raises the
transport error a test asks for), so the real ``requests`` session and its OpenTelemetry
instrumentation run unchanged.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import Flask
from flask.testing import FlaskClient
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from restaurant.common.runtime import Runtime
from restaurant.common.service import close_app, service_of
from restaurant.common.settings import Settings
from restaurant.gateway.app import create_app as create_gateway
from restaurant.iot.app import create_app as create_iot
from restaurant.orders.app import create_app as create_orders
from restaurant.users.app import create_app as create_users

__all__ = [
    "ServiceUnderTest",
    "Services",
    "WsgiTransport",
    "metric_value",
    "trace_hex",
]

TRACEPARENT_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT_PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACEPARENT_TRACE_ID}-{TRACEPARENT_PARENT_ID}-01"


def trace_hex(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def metric_value(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels`` (None if absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


@dataclass
class ServiceUnderTest:
    app: Flask
    exporter: InMemorySpanExporter
    log_file: Path

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def spans(self) -> list[ReadableSpan]:
        service_of(self.app).telemetry.force_flush()
        return list(self.exporter.get_finished_spans())

    def log_lines(self) -> list[dict[str, Any]]:
        lines = self.log_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def access_lines(self) -> list[dict[str, Any]]:
        return [line for line in self.log_lines() if "http" in line]

    def metrics(self) -> str:
        response = self.client().get("/metrics")
        assert response.status_code == 200
        return response.get_data(as_text=True)


class WsgiTransport(BaseAdapter):
    """``http://<host>/...`` → the Flask app registered for ``host``; ``failures[host]`` raised."""

    def __init__(self) -> None:
        super().__init__()
        self.apps: dict[str, Flask] = {}
        self.failures: dict[str, requests.RequestException] = {}
        self.sent: list[requests.PreparedRequest] = []
        self._lock = threading.Lock()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        with self._lock:
            self.sent.append(request)
        url = urlsplit(request.url or "")
        if url.netloc in self.failures:
            raise self.failures[url.netloc]
        app = self.apps[url.netloc]
        body = request.body.encode() if isinstance(request.body, str) else request.body
        # a network hop: the upstream starts from an empty context and sees only the headers
        token = otel_context.attach(otel_context.Context())
        try:
            answer = app.test_client().open(
                url.path,
                method=request.method or "GET",
                query_string=url.query,
                headers=dict(request.headers),
                data=body or b"",
            )
        finally:
            otel_context.detach(token)
        response = requests.Response()
        response.status_code = answer.status_code
        response.reason = answer.status.partition(" ")[2]
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        response.raw = io.BytesIO(answer.get_data())
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


@dataclass
class Services:
    """Builds service apps under ``root`` and closes them all at the end of the test."""

    root: Path
    built: list[ServiceUnderTest] = field(default_factory=list)

    def settings(self, service: str, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "service_name": service,
            "log_file": self.root / f"{service}-{len(self.built)}.log",
            "database_url": f"sqlite:///{self.root / f'{service}-{len(self.built)}.db'}",
            "traces_exporter": "none",
            "orders_url": "http://orders.test",
            "users_url": "http://users.test",
            "iot_url": "http://iot.test",
        }
        values.update(overrides)
        return Settings(**values)

    def _build(
        self, service: str, factory: Callable[..., Flask], overrides: dict[str, Any], **extra: Any
    ) -> ServiceUnderTest:
        settings = self.settings(service, **overrides)
        exporter = InMemorySpanExporter()
        app = factory(settings, span_exporter=exporter, **extra)
        built = ServiceUnderTest(app, exporter, settings.log_file)
        self.built.append(built)
        return built

    def orders(self, runtime: Runtime | None = None, **overrides: Any) -> ServiceUnderTest:
        return self._build("orders", create_orders, overrides, runtime=runtime)

    def users(self, runtime: Runtime | None = None, **overrides: Any) -> ServiceUnderTest:
        return self._build("users", create_users, overrides, runtime=runtime)

    def iot(self, runtime: Runtime | None = None, **overrides: Any) -> ServiceUnderTest:
        return self._build("iot", create_iot, overrides, runtime=runtime)

    def gateway(self, transport: WsgiTransport, **overrides: Any) -> ServiceUnderTest:
        session = requests.Session()
        session.mount("http://", transport)
        return self._build("gateway", create_gateway, overrides, session=session)

    def close(self) -> None:
        for built in self.built:
            close_app(built.app)
