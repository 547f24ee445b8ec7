"""Tracing: one TracerProvider per app, Flask / Requests / SQLAlchemy auto-instrumentation.

The global TracerProvider is never set (it can be set only once per process, and unit tests
build many apps in one process). Instead each app owns its provider and hands it to the
instrumentations directly:

- Flask: ``FlaskInstrumentor.instrument_app(app, tracer_provider=...)`` (per app);
- SQLAlchemy: an ``EngineTracer`` on the app's own engine (per engine; the instrumentor's
  ``instrument()`` would also patch ``create_engine`` process-wide with the first provider);
- Requests: its instrumentation patches ``requests.Session.send`` for the whole process, once.
  It is given a provider that resolves, per span, to the provider of the Flask app handling
  the current request (the global provider outside a request), so a process running several
  apps still sends each client span to the right app's exporter.

Propagation is OpenTelemetry's default, W3C ``traceparent`` / ``tracestate`` (and baggage).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, has_app_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.instrumentation.sqlalchemy.version import __version__ as sqlalchemy_otel_version
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.util.types import Attributes
from sqlalchemy import Engine

from restaurant.common.settings import Settings

__all__ = [
    "EXCLUDED_URLS",
    "SCHEDULE_DELAY_MS",
    "Telemetry",
    "build_telemetry",
    "instrument_engine",
    "instrument_flask",
    "instrument_requests",
]

SCHEDULE_DELAY_MS = 500  # spans reach the collector about half a second after they end
EXCLUDED_URLS = r"/metrics$"  # Prometheus scrapes every second: no trace per scrape
_EXTENSION = "restaurant.telemetry"


@dataclass(frozen=True)
class Telemetry:
    provider: TracerProvider
    exporter: SpanExporter | None  # None when OTEL_TRACES_EXPORTER=none
    exporting: threading.Event  # cleared by the drop_spans fault: finished spans are dropped

    def set_exporting(self, on: bool) -> None:
        if on:
            self.exporting.set()
        else:
            self.exporting.clear()

    def force_flush(self) -> bool:
        return self.provider.force_flush()

    def shutdown(self) -> None:
        self.provider.shutdown()


def build_telemetry(settings: Settings, span_exporter: SpanExporter | None = None) -> Telemetry:
    """A provider sampling everything a parent did not decide (parent-based, always on).

    ``span_exporter`` replaces OTLP (tests pass an ``InMemorySpanExporter``).
    """
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: settings.service_name}),
        sampler=ParentBased(ALWAYS_ON),
    )
    exporter = span_exporter
    if exporter is None and settings.traces_exporter == "otlp":
        endpoint = f"{settings.otlp_endpoint.rstrip('/')}/v1/traces"
        exporter = OTLPSpanExporter(endpoint=endpoint, timeout=5)
    exporting = threading.Event()
    exporting.set()
    if exporter is not None:
        batch = BatchSpanProcessor(exporter, schedule_delay_millis=SCHEDULE_DELAY_MS)
        provider.add_span_processor(_GatedSpanProcessor(batch, exporting))
    return Telemetry(provider=provider, exporter=exporter, exporting=exporting)


class _GatedSpanProcessor(SpanProcessor):
    """Passes finished spans on only while ``gate`` is set (the drop_spans fault clears it)."""

    def __init__(self, inner: SpanProcessor, gate: threading.Event) -> None:
        self._inner = inner
        self._gate = gate

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self._inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self._gate.is_set():
            self._inner.on_end(span)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


def instrument_flask(app: Flask, telemetry: Telemetry) -> None:
    """Server spans for every request but the metrics scrape; call before adding other hooks,
    so the server span is current in every later ``before_request`` and ``after_request``."""
    app.extensions[_EXTENSION] = telemetry
    FlaskInstrumentor.instrument_app(  # type: ignore[no-untyped-call]
        app, tracer_provider=telemetry.provider, excluded_urls=EXCLUDED_URLS
    )


def instrument_engine(engine: Engine, telemetry: Telemetry) -> None:
    """A client span per statement, child of the current (server) span."""
    tracer = telemetry.provider.get_tracer(
        "opentelemetry.instrumentation.sqlalchemy", sqlalchemy_otel_version
    )
    usage = (
        metrics.NoOpMeterProvider()
        .get_meter("restaurant")
        .create_up_down_counter("db.client.connections.usage")
    )
    EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]


def instrument_requests() -> None:
    """Instrument ``requests`` once per process (idempotent)."""
    instrumentor = RequestsInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(tracer_provider=_CurrentAppTracerProvider())


def _current_provider() -> trace.TracerProvider:
    if has_app_context():
        telemetry = current_app.extensions.get(_EXTENSION)
        if isinstance(telemetry, Telemetry):
            return telemetry.provider
    return trace.get_tracer_provider()


class _CurrentAppTracerProvider(trace.TracerProvider):
    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> trace.Tracer:
        return _CurrentAppTracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


class _CurrentAppTracer(trace.Tracer):
    def __init__(
        self, name: str, version: str | None, schema_url: str | None, attributes: Attributes
    ) -> None:
        self._scope = (name, version, schema_url, attributes)

    def _tracer(self) -> trace.Tracer:
        name, version, schema_url, attributes = self._scope
        return _current_provider().get_tracer(name, version, schema_url, attributes)

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._tracer().start_span(*args, **kwargs)

    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> Iterator[trace.Span]:
        with self._tracer().start_as_current_span(*args, **kwargs) as span:
            yield span
