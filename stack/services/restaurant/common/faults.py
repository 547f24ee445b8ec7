"""Injected faults (stack/CONTRACT.md "Admin faults"): the admin endpoint and the request hook.

``GET/PUT/DELETE /admin/faults`` exist only when CHAOSGATE_ADMIN_FAULTS=1 (else 404). A request
whose path starts with ``route_prefix`` first sleeps ``latency_ms``, then answers 500
``{"error": "injected fault"}`` with probability ``error_ratio``, then checks out its pooled
database connection and holds it ``db_hold_ms`` before the handler runs. ``drop_spans`` stops
the service exporting spans (a broken exporter) while requests are served as usual. The admin
endpoint and ``/metrics`` are never faulted, so a fault can always be removed and scraped.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from flask import Flask, Response, jsonify, request

from restaurant.common.db import Database
from restaurant.common.errors import ApiError, error_response
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
MAX_MS = 60_000


@dataclass(frozen=True)
class FaultConfig:
    latency_ms: int = 0
    error_ratio: float = 0.0
    route_prefix: str = "/api"
    db_hold_ms: int = 0
    drop_spans: bool = False  # a misconfigured exporter: finished spans are never exported

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _milliseconds(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{key!r} must be a whole number of milliseconds, got {value!r}")
    if not (math.isfinite(value) and float(value).is_integer() and 0 <= value <= MAX_MS):
        raise ApiError(400, f"{key!r} must be a whole number from 0 to {MAX_MS}, got {value!r}")
    return int(value)


def parse_fault_update(
    payload: dict[str, Any], current: FaultConfig, *, has_database: bool
) -> FaultConfig:
    """``current`` with the payload's keys applied; a bad key or value is a 400, nothing applied."""
    known = {field.name for field in fields(FaultConfig)}
    unknown = sorted(set(payload) - known)
    if unknown:
        raise ApiError(
            400, f"unknown fault setting {unknown[0]!r}; use any of {', '.join(sorted(known))}"
        )
    changes: dict[str, Any] = {}
    for key in ("latency_ms", "db_hold_ms"):
        if key in payload:
            changes[key] = _milliseconds(key, payload[key])
    if "error_ratio" in payload:
        ratio = payload["error_ratio"]
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
            raise ApiError(400, f"'error_ratio' must be a number from 0.0 to 1.0, got {ratio!r}")
        changes["error_ratio"] = float(ratio)
    if "route_prefix" in payload:
        prefix = payload["route_prefix"]
        if not isinstance(prefix, str) or not prefix.startswith("/") or len(prefix) > 200:
            raise ApiError(400, f"'route_prefix' must be a path starting with '/', got {prefix!r}")
        changes["route_prefix"] = prefix
    if "drop_spans" in payload:
        if not isinstance(payload["drop_spans"], bool):
            raise ApiError(
                400, f"'drop_spans' must be true or false, got {payload['drop_spans']!r}"
            )
        changes["drop_spans"] = payload["drop_spans"]
    if changes.get("db_hold_ms", 0) > 0 and not has_database:
        raise ApiError(400, "'db_hold_ms' needs a database and this service has none; set it to 0")
    return replace(current, **changes)


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
        self._lock = threading.Lock()
        self._config = FaultConfig()

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return self._config

    def update(self, payload: dict[str, Any]) -> FaultConfig:
        with self._lock:
            self._config = parse_fault_update(
                payload, self._config, has_database=self._database is not None
            )
            config = self._config
        self._on_change(config)
        self._logger.warning("faults set: %s", config.as_json())
        return config

    def clear(self) -> FaultConfig:
        with self._lock:
            self._config = FaultConfig()
        self._on_change(self._config)
        self._logger.warning("faults cleared")
        return FaultConfig()

    def before_request(self) -> Response | None:
        path = request.path
        if path == METRICS_PATH or path.startswith(ADMIN_PATH):
            return None
        config = self.config
        if not path.startswith(config.route_prefix):
            return None
        if config.latency_ms > 0:
            self._runtime.sleep(config.latency_ms / 1000)
        if config.error_ratio > 0 and self._runtime.random() < config.error_ratio:
            self._logger.warning("injected fault: answering 500 to %s %s", request.method, path)
            return error_response(500, "injected fault")
        if config.db_hold_ms > 0 and self._database is not None:
            self._database.connection()  # 503 via the pool-timeout handler when exhausted
            self._runtime.sleep(config.db_hold_ms / 1000)
        return None


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
