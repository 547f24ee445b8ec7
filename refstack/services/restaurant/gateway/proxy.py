"""Forwarding a request to an upstream service with ``requests``, counting what goes wrong.

The session has short timeouts and no retries. A transport failure is counted in
``gateway_upstream_errors_total{kind}`` and answered with JSON: ``connect`` (refused,
unresolvable) → 502, ``timeout`` (connect or read) → 504, ``reset`` (the connection dropped
mid-request) → 502. An upstream's own error status is passed through unchanged.
"""

from __future__ import annotations

import http.client
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import requests
import urllib3.exceptions
from flask import Response, request
from requests.adapters import HTTPAdapter

from restaurant.common.errors import error_response
from restaurant.common.metrics import ServiceMetrics
from restaurant.common.request_id import HEADER as REQUEST_ID_HEADER
from restaurant.common.request_id import current_request_id

__all__ = ["ERROR_KINDS", "UPSTREAMS", "Proxy", "Timeouts", "classify_error", "default_session"]

UPSTREAMS = ("orders", "users", "iot")
ERROR_KINDS = ("connect", "timeout", "reset")
_FORWARDED_HEADERS = ("Content-Type", "Accept")
_RESET_CAUSES = (
    ConnectionResetError,
    BrokenPipeError,
    http.client.RemoteDisconnected,
    urllib3.exceptions.ProtocolError,
)


@dataclass(frozen=True)
class Timeouts:
    connect_s: float
    read_s: float


def default_session() -> requests.Session:
    """Keep-alive connections to the upstreams, one pool slot per gunicorn thread, no retries."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=len(UPSTREAMS), pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [*current.args, getattr(current, "reason", None)]
        linked += [current.__cause__, current.__context__]
        pending.extend(item for item in linked if isinstance(item, BaseException))


def classify_error(exc: requests.RequestException) -> str:
    """``timeout``, ``reset`` or ``connect``."""
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "reset"
    if any(isinstance(cause, _RESET_CAUSES) for cause in _causes(exc)):
        return "reset"
    return "connect"


class Proxy:
    def __init__(
        self,
        session: requests.Session,
        urls: Mapping[str, str],
        timeouts: Timeouts,
        metrics: ServiceMetrics,
        logger: logging.Logger,
    ) -> None:
        self._session = session
        self._urls = dict(urls)
        self._timeouts = timeouts
        self._logger = logger
        service = metrics.service
        self._requests = metrics.counter(
            "gateway_upstream_requests_total", "Requests sent to an upstream.", ["upstream"]
        )
        self._errors = metrics.counter(
            "gateway_upstream_errors_total",
            "Requests to an upstream that failed in transport, by kind.",
            ["upstream", "kind"],
        )
        for upstream in self._urls:
            self._requests.labels(service, upstream)
            for kind in ERROR_KINDS:
                self._errors.labels(service, upstream, kind)
        self._service = service

    def forward(self, upstream: str) -> Response:
        """Send the current request to ``upstream`` (same method, path, query and body)."""
        url = self._urls[upstream] + request.path
        if request.query_string:
            url += "?" + request.query_string.decode("latin-1")
        headers = {
            name: request.headers[name] for name in _FORWARDED_HEADERS if name in request.headers
        }
        headers[REQUEST_ID_HEADER] = current_request_id()
        self._requests.labels(self._service, upstream).inc()
        try:
            answer = self._session.request(
                request.method,
                url,
                data=request.get_data(),
                headers=headers,
                timeout=(self._timeouts.connect_s, self._timeouts.read_s),
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return self._failed(upstream, url, exc)
        return Response(
            answer.content,
            status=answer.status_code,
            content_type=answer.headers.get("Content-Type", "application/json"),
        )

    def _failed(self, upstream: str, url: str, exc: requests.RequestException) -> Response:
        kind = classify_error(exc)
        self._errors.labels(self._service, upstream, kind).inc()
        self._logger.error(
            "upstream %s failed (%s) for %s %s: %s", upstream, kind, request.method, url, exc
        )
        if kind == "timeout":
            return error_response(
                504, f"upstream {upstream!r} did not answer in time ({self._timeouts.read_s} s)"
            )
        if kind == "reset":
            return error_response(502, f"upstream {upstream!r} dropped the connection")
        return error_response(502, f"upstream {upstream!r} is unreachable")
