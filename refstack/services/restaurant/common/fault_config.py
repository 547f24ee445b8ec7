"""The fault settings of ``/admin/faults`` (refstack/CONTRACT.md "Admin faults") and their parsing.

Per-request faults (``latency_ms``, ``error_ratio``, ``drop_connection_ratio``, ``db_hold_ms``)
apply to the requests whose path starts with ``route_prefix`` and whose method is one of
``methods`` (``None``: every method). ``db_hold_connections`` is a connection leak that needs
no request, ``drop_spans`` a broken exporter.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from restaurant.common.errors import ApiError

__all__ = ["HTTP_METHODS", "MAX_LOG_LINES_PER_S", "MAX_MS", "FaultConfig", "parse_fault_update"]

MAX_MS = 60_000
MAX_LOG_LINES_PER_S = 50_000
HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


@dataclass(frozen=True)
class FaultConfig:
    latency_ms: int = 0
    error_ratio: float = 0.0
    route_prefix: str = "/api"
    methods: tuple[str, ...] | None = None  # None: every method
    db_hold_ms: int = 0
    db_hold_connections: int = 0  # pooled connections checked out and held (a leak)
    drop_connection_ratio: float = 0.0  # requests whose TCP connection is shut, unanswered
    drop_spans: bool = False  # a misconfigured exporter: finished spans are never exported
    log_lines_per_s: int = 0  # a log flood: lines the service writes a second (log_flood.py)

    def applies_to(self, method: str, path: str) -> bool:
        """True when the per-request faults apply to ``method path``."""
        if not path.startswith(self.route_prefix):
            return False
        return self.methods is None or method.upper() in self.methods

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["methods"] = list(self.methods) if self.methods is not None else None
        return data


def _milliseconds(key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, f"{key!r} must be a whole number of milliseconds, got {value!r}")
    if not (math.isfinite(value) and float(value).is_integer() and 0 <= value <= MAX_MS):
        raise ApiError(400, f"{key!r} must be a whole number from 0 to {MAX_MS}, got {value!r}")
    return int(value)


def _ratio(key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ApiError(400, f"{key!r} must be a number from 0.0 to 1.0, got {value!r}")
    return float(value)


def _methods(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    hint = (
        f"'methods' must be a non-empty list of HTTP methods (any of {', '.join(HTTP_METHODS)}), "
        f'e.g. ["POST"], or null for every method; got {value!r}'
    )
    if not isinstance(value, list) or not value or not all(isinstance(m, str) for m in value):
        raise ApiError(400, hint)
    methods = sorted({method.strip().upper() for method in value})
    unknown = [method for method in methods if method not in HTTP_METHODS]
    if unknown:
        raise ApiError(400, f"unknown HTTP method {unknown[0]!r}; {hint}")
    return tuple(methods)


def _connections(value: object, pool_size: int | None) -> int:
    if pool_size is None:
        if value == 0 and not isinstance(value, bool):
            return 0
        raise ApiError(
            400, "'db_hold_connections' needs a database and this service has none; set it to 0"
        )
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= pool_size:
        raise ApiError(
            400,
            f"'db_hold_connections' must be a whole number from 0 to the pool size {pool_size} "
            f"(DB_POOL_SIZE), got {value!r}",
        )
    return value


def parse_fault_update(
    payload: dict[str, Any], current: FaultConfig, *, pool_size: int | None
) -> FaultConfig:
    """``current`` with the payload's keys applied; a bad key or value is a 400, nothing applied.

    ``pool_size`` is the service's database pool size, ``None`` when it has no database.
    """
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
    for key in ("error_ratio", "drop_connection_ratio"):
        if key in payload:
            changes[key] = _ratio(key, payload[key])
    if "route_prefix" in payload:
        prefix = payload["route_prefix"]
        if not isinstance(prefix, str) or not prefix.startswith("/") or len(prefix) > 200:
            raise ApiError(400, f"'route_prefix' must be a path starting with '/', got {prefix!r}")
        changes["route_prefix"] = prefix
    if "methods" in payload:
        changes["methods"] = _methods(payload["methods"])
    if "db_hold_connections" in payload:
        changes["db_hold_connections"] = _connections(payload["db_hold_connections"], pool_size)
    if "drop_spans" in payload:
        if not isinstance(payload["drop_spans"], bool):
            raise ApiError(
                400, f"'drop_spans' must be true or false, got {payload['drop_spans']!r}"
            )
        changes["drop_spans"] = payload["drop_spans"]
    if "log_lines_per_s" in payload:
        rate = payload["log_lines_per_s"]
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int)
            or not 0 <= rate <= MAX_LOG_LINES_PER_S
        ):
            raise ApiError(
                400,
                f"'log_lines_per_s' must be a whole number from 0 to {MAX_LOG_LINES_PER_S}, "
                f"got {rate!r}",
            )
        changes["log_lines_per_s"] = rate
    if changes.get("db_hold_ms", 0) > 0 and pool_size is None:
        raise ApiError(400, "'db_hold_ms' needs a database and this service has none; set it to 0")
    return replace(current, **changes)
