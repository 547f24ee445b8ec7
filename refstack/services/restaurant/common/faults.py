"""Injected faults (refstack/CONTRACT.md "Admin faults"): the admin endpoint and the request hook.

``GET/PUT/DELETE /admin/faults`` exist only when CHAOSGATE_ADMIN_FAULTS=1 (else 404). A request
whose path starts with ``route_prefix`` and whose method is one of ``methods`` (every method
when null) first sleeps ``latency_ms``, then has its connection dropped without an answer with
probability ``drop_connection_ratio``, then answers 500 ``{"error": "injected fault"}`` with
probability ``error_ratio``, then checks out its pooled database connection and holds it
``db_hold_ms`` before the handler runs. ``db_hold_connections`` keeps that many of the pool's
connections checked out (a leak, :mod:`restaurant.common.connection_leak`) until it is set back
to 0 or the faults are cleared. ``drop_spans`` stops the service exporting spans (a broken
exporter) while requests are served as usual. The admin endpoint and ``/metrics`` are never
faulted, so a fault can always be removed and scraped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request

from restaurant.common.connection_drop import drop_connection
from restaurant.common.connection_leak import ConnectionLeak
from restaurant.common.db import Database
from restaurant.common.errors import error_response
from restaurant.common.fault_config import MAX_MS, FaultConfig, parse_fault_update
from restaurant.common.log_flood import LogFlood
from restaurant.common.metrics import METRICS_PATH
from restaurant.common.payload import json_object
from restaurant.common.runtime import Runtime

__all__ = [
    "ADMIN_PATH",
    "MAX_MS",
    "FaultConfig",
    "FaultInjector",
    "install_faults",
    "parse_fault_update",
]

ADMIN_PATH = "/admin/faults"
FLOOD_PATH = f"{ADMIN_PATH}/log-flood"  # what the last log flood wrote


class FaultInjector:
    """The current fault settings (thread-safe) and what they do to a request."""

    def __init__(
        self,
        runtime: Runtime,
        logger: logging.Logger,
        database: Database | None,
        *,
        on_change: Callable[[FaultConfig], None] = lambda _config: None,
    ) -> None:
        self._on_change = on_change
        self._runtime = runtime
        self._logger = logger
        self._database = database
        self._leak = ConnectionLeak(database, logger) if database is not None else None
        self._flood = LogFlood(logger, runtime)
        self._lock = threading.Lock()
        self._config = FaultConfig()

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return self._config

    @property
    def flood(self) -> LogFlood:
        """The lines of ``log_lines_per_s``."""
        return self._flood

    @property
    def leak(self) -> ConnectionLeak | None:
        """The held connections of ``db_hold_connections`` (None without a database)."""
        return self._leak

    def update(self, payload: dict[str, Any]) -> FaultConfig:
        pool_size = self._database.pool_size if self._database is not None else None
        with self._lock:
            self._config = parse_fault_update(payload, self._config, pool_size=pool_size)
            config = self._config
        self._applied(config)
        self._logger.warning("faults set: %s", config.as_json())
        return config

    def clear(self) -> FaultConfig:
        with self._lock:
            self._config = FaultConfig()
        self._applied(self._config)
        self._logger.warning("faults cleared")
        return FaultConfig()

    def close(self) -> None:
        """Give held connections back and stop a flood (service shutdown)."""
        self._flood.close()
        if self._leak is not None:
            self._leak.close()

    def _applied(self, config: FaultConfig) -> None:
        if self._leak is not None:
            self._leak.hold(config.db_hold_connections)
        self._flood.set(config.log_lines_per_s)
        self._on_change(config)

    def before_request(self) -> Response | None:
        path = request.path
        if path == METRICS_PATH or path.startswith(ADMIN_PATH):
            return None
        config = self.config
        if not config.applies_to(request.method, path):
            return None
        if config.latency_ms > 0:
            self._runtime.sleep(config.latency_ms / 1000)
        drop = config.drop_connection_ratio
        if drop > 0 and self._runtime.random() < drop:
            return self._drop(request.method, path)
        if config.error_ratio > 0 and self._runtime.random() < config.error_ratio:
            self._logger.warning("injected fault: answering 500 to %s %s", request.method, path)
            return error_response(500, "injected fault")
        if config.db_hold_ms > 0 and self._database is not None:
            self._database.connection()  # 503 via the pool-timeout handler when exhausted
            self._runtime.sleep(config.db_hold_ms / 1000)
        return None

    def _drop(self, method: str, path: str) -> Response:
        if not drop_connection():
            self._logger.error(
                "injected fault: cannot drop the connection of %s %s: the server exposes no "
                "client socket (gunicorn.socket); answering 500 instead",
                method,
                path,
            )
            return error_response(500, "injected fault: connection drop unsupported here")
        self._logger.warning(
            "injected fault: dropped the connection of %s %s without an answer", method, path
        )
        # never written (the socket is shut); gunicorn's write fails with EPIPE, logged at debug
        return error_response(500, "injected fault: connection dropped")


def install_faults(app: Flask, injector: FaultInjector, *, admin: bool) -> None:
    """The request hook always; the admin endpoint only when ``admin`` (else it is a 404)."""
    app.before_request(injector.before_request)
    if not admin:
        return

    @app.get(ADMIN_PATH)
    def get_faults() -> Response:
        return jsonify(injector.config.as_json())

    @app.put(ADMIN_PATH)
    def put_faults() -> Response:
        return jsonify(injector.update(json_object()).as_json())

    @app.delete(ADMIN_PATH)
    def delete_faults() -> Response:
        return jsonify(injector.clear().as_json())

    @app.get(FLOOD_PATH)
    def get_log_flood() -> Response:
        return jsonify(injector.flood.stats().as_json())
