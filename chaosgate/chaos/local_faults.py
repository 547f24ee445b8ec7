"""The services' fault switches, ``PUT/GET/DELETE /admin/faults`` (``type: python``).

- ``set_faults``: turn on injected faults on one service (only the settings given change);
- ``clear_faults``: the rollback, every fault off.

The switches live in the service's memory, so a service that restarts comes back without them;
the record of what is on is the service's own ``GET /admin/faults``.
"""

from __future__ import annotations

from typing import Any

import httpx
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_stack import service_url
from chaosgate.http_clients import new_http_client

__all__ = ["clear_faults", "service_error_text", "set_faults"]

_HTTP_TIMEOUT_S = 5.0


def _faults_request(
    method: str, service: str, body: dict[str, Any] | None, client: httpx.Client | None
) -> dict[str, Any]:
    url = f"{service_url(service)}/admin/faults"
    own = client is None
    http = new_http_client(_HTTP_TIMEOUT_S) if client is None else client
    try:
        response = http.request(method, url, json=body)
    except httpx.HTTPError as exc:
        raise ActivityFailed(
            f"{method} {url} failed ({type(exc).__name__}: {exc}); "
            f"is {service!r} up? check `chaosgate stack status`"
        ) from exc
    finally:
        if own:
            http.close()
    if response.status_code == 404:
        raise ActivityFailed(
            f"{method} {url} answered 404: the admin fault endpoint is off on {service!r}; "
            "the local stack turns it on with CHAOSGATE_ADMIN_FAULTS=1"
        )
    if response.status_code >= 300:
        raise ActivityFailed(
            f"{method} {url} answered HTTP {response.status_code}: {service_error_text(response)}"
        )
    try:
        payload = response.json()
    except ValueError:
        raise ActivityFailed(f"{method} {url} answered non-JSON: {response.text[:300]}") from None
    if not isinstance(payload, dict):
        raise ActivityFailed(f"{method} {url} answered {payload!r}, not a JSON object")
    return payload


def service_error_text(response: httpx.Response) -> str:
    """The service's own error message (``{"error": ...}``), else the body's start."""
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(payload, dict) and isinstance(payload.get("error"), str):
        return str(payload["error"])
    return response.text[:300]


def set_faults(
    service: str,
    error_ratio: float | None = None,
    latency_ms: int | None = None,
    route_prefix: str | None = None,
    db_hold_ms: int | None = None,
    methods: list[str] | None = None,
    db_hold_connections: int | None = None,
    drop_connection_ratio: float | None = None,
    log_lines_per_s: int | None = None,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Turn on injected faults on ``service`` (``PUT /admin/faults``); returns what is now set.

    Only the settings given are changed (refstack/CONTRACT.md "Admin faults": ``methods`` limits
    the per-request faults to those HTTP methods, ``db_hold_connections`` holds that many
    pooled connections, ``drop_connection_ratio`` drops that share of the connections without
    an answer, ``log_lines_per_s`` floods its log with that many lines a second); the service
    validates them (a bad value is a 400 whose message is passed on).
    ``client`` is for tests; experiments leave it out.
    """
    body = {
        key: value
        for key, value in (
            ("error_ratio", error_ratio),
            ("latency_ms", latency_ms),
            ("route_prefix", route_prefix),
            ("db_hold_ms", db_hold_ms),
            ("methods", methods),
            ("db_hold_connections", db_hold_connections),
            ("drop_connection_ratio", drop_connection_ratio),
            ("log_lines_per_s", log_lines_per_s),
        )
        if value is not None
    }
    if not body:
        raise ActivityFailed(
            f"set_faults on {service!r} got no fault; give at least one of "
            "error_ratio, latency_ms, route_prefix, db_hold_ms, methods, db_hold_connections, "
            "drop_connection_ratio, log_lines_per_s"
        )
    return _faults_request("PUT", service, body, client)


def clear_faults(service: str, client: httpx.Client | None = None) -> dict[str, Any]:
    """Turn every injected fault off on ``service`` (``DELETE /admin/faults``)."""
    return _faults_request("DELETE", service, None, client)
