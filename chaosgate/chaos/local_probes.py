"""Chaos Toolkit probes on the local stack (``type: python`` activities).

A probe answers a question with data (True / False, a dict); it raises ``ActivityFailed`` only
when it cannot ask at all (no stack running, an unknown name).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_stack import current_stack, program_info, service_url, supervisor
from chaosgate.http_clients import new_http_client

__all__ = ["get_faults", "program_running", "service_healthy"]

_HTTP_TIMEOUT_S = 2.0
_POLL_S = 0.5


def _healthy_once(http: httpx.Client, url: str) -> bool:
    try:
        response = http.get(url)
    except httpx.HTTPError:
        return False
    return 200 <= response.status_code < 300


def service_healthy(name: str, timeout_s: float = 0.0, client: httpx.Client | None = None) -> bool:
    """True when the service's ``GET /healthz`` answers 2xx.

    With ``timeout_s`` > 0 it keeps asking (every 0.5 s) until the service is healthy or the
    time is up, so a steady-state hypothesis can allow a service the time supervisord needs to
    bring it back. ``client`` is for tests; experiments leave it out.
    """
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s < 0:
        raise ActivityFailed(f"timeout_s must be a number of seconds >= 0, got {timeout_s!r}")
    url = f"{service_url(name)}/healthz"
    own = client is None
    http = new_http_client(_HTTP_TIMEOUT_S) if client is None else client
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if _healthy_once(http, url):
                return True
            if time.monotonic() + _POLL_S > deadline:
                return False
            time.sleep(_POLL_S)
    finally:
        if own:
            http.close()


def program_running(name: str) -> bool:
    """True when supervisord reports the program ``name`` RUNNING."""
    layout, _record = current_stack()
    info = program_info(supervisor(layout), layout, name)
    return info.get("statename") == "RUNNING"


def get_faults(service: str, client: httpx.Client | None = None) -> dict[str, Any]:
    """The service's current fault settings (``GET /admin/faults``)."""
    url = f"{service_url(service)}/admin/faults"
    own = client is None
    http = new_http_client(_HTTP_TIMEOUT_S) if client is None else client
    try:
        response = http.get(url)
    except httpx.HTTPError as exc:
        raise ActivityFailed(f"GET {url} failed ({type(exc).__name__}: {exc})") from exc
    finally:
        if own:
            http.close()
    if response.status_code >= 300:
        raise ActivityFailed(
            f"GET {url} answered HTTP {response.status_code}: {response.text[:300]}"
        )
    payload = response.json()
    if not isinstance(payload, dict):
        raise ActivityFailed(f"GET {url} answered {payload!r}, not a JSON object")
    return payload
