"""The skeleton every service app is built on: telemetry, logs, metrics, request ids, faults,
optional database, ``/healthz``, ``/metrics`` and JSON errors. Service apps add their routes."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, Response, jsonify, request
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from restaurant.common.access import install_access
from restaurant.common.db import Database, PoolCollector, install_database
from restaurant.common.errors import ApiError, error_response
from restaurant.common.faults import FaultInjector, install_faults
from restaurant.common.logs import ServiceLogs, build_logs
from restaurant.common.metrics import ServiceMetrics, install_metrics_endpoint
from restaurant.common.request_id import install_request_id
from restaurant.common.runtime import Runtime
from restaurant.common.settings import Settings
from restaurant.common.telemetry import (
    Telemetry,
    build_telemetry,
    instrument_engine,
    instrument_flask,
)

__all__ = ["Service", "build_service_app", "close_app", "service_of"]

_EXTENSION = "restaurant.service"


@dataclass(frozen=True)
class Service:
    """What an app is made of; services reach it through :func:`service_of`."""

    settings: Settings
    runtime: Runtime
    telemetry: Telemetry
    logs: ServiceLogs
    metrics: ServiceMetrics
    faults: FaultInjector
    database: Database | None

    def close(self) -> None:
        """Flush spans, give held connections back, close the log file and the pool (tests;
        gunicorn exits instead)."""
        self.telemetry.shutdown()
        self.faults.close()
        if self.database is not None:
            self.database.dispose()
        self.logs.close()


def service_of(app: Flask) -> Service:
    service = app.extensions.get(_EXTENSION)
    if not isinstance(service, Service):
        raise LookupError(f"app {app.name!r} was not built by build_service_app")
    return service


def close_app(app: Flask) -> None:
    service_of(app).close()


def build_service_app(
    settings: Settings,
    *,
    span_exporter: SpanExporter | None = None,
    runtime: Runtime | None = None,
    with_database: bool = False,
) -> tuple[Flask, Service]:
    """A Flask app with every shared piece wired, in the order the request hooks need."""
    runtime = runtime or Runtime()
    name = settings.service_name
    app = Flask(f"restaurant.{name}")
    telemetry = build_telemetry(settings, span_exporter)
    instrument_flask(app, telemetry)  # first: the server span is current in every later hook
    logs = build_logs(name, settings.log_file)
    metrics = ServiceMetrics(name)
    install_access(app, logs, metrics)  # the clock starts before, the line is written after all
    install_request_id(app)
    database = None
    if with_database:
        database = Database(
            settings.require_database_url(),
            pool_size=settings.db_pool_size,
            pool_timeout_s=settings.db_pool_timeout_s,
        )
        instrument_engine(database.engine, telemetry)
        metrics.registry.register(PoolCollector(name, database))
        install_database(app, database, logs.app)
    faults = FaultInjector(
        runtime,
        logs.app,
        database,
        on_change=lambda config: telemetry.set_exporting(not config.drop_spans),
    )
    install_faults(app, faults, admin=settings.admin_faults)
    install_metrics_endpoint(app, metrics)
    _install_health(app, name)
    _install_error_handlers(app, logs)
    service = Service(settings, runtime, telemetry, logs, metrics, faults, database)
    app.extensions[_EXTENSION] = service
    logs.app.info(
        "service %s starting (admin faults %s, traces %s)",
        name,
        "on" if settings.admin_faults else "off",
        "to an exporter" if telemetry.exporter is not None else "not exported",
    )
    return app, service


def _install_health(app: Flask, name: str) -> None:
    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok", service=name)


def _install_error_handlers(app: Flask, logs: ServiceLogs) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        if isinstance(exc, NotFound) and request.url_rule is None:
            message = f"no route for {request.method} {request.path!r}"
        elif isinstance(exc, MethodNotAllowed):
            allowed = ", ".join(sorted(exc.valid_methods or ()))
            message = f"method {request.method!r} is not allowed on {request.path!r}; use {allowed}"
        else:
            message = f"{exc.name.lower()}: {request.method} {request.path!r}"
        return error_response(exc.code or 500, message)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        trace.get_current_span().record_exception(exc)
        logs.app.exception("unhandled error in %s %s", request.method, request.path)
        return error_response(500, "internal error")
