"""Helpers for the assertions' unit tests: recorded mock transports, a fake clock, ledgers.

Backends are faked only at the transport: ``httpx.MockTransport`` for httpx users and a
``requests`` transport adapter for prometheus-api-client.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from chaosgate.vocabulary import LedgerEntry

__all__ = [
    "Recorder",
    "RequestsTransport",
    "entry",
    "failing",
    "trace_id",
]

Handler = Callable[[httpx.Request], httpx.Response]


def trace_id(number: int) -> str:
    return f"{number:032x}"


def entry(
    number: int,
    *,
    route: str = "/api/menu",
    status: int = 200,
    started_at: float = 1000.0,
    latency_s: float = 0.1,
    request_id: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        trace_id=trace_id(number),
        span_id=f"{number:016x}",
        request_id=request_id or f"req-{number}",
        scenario="Customer",
        method="GET",
        route=route,
        status=status,
        started_at=started_at,
        latency_s=latency_s,
        error="" if status else "ConnectError",
    )


@dataclass
class Recorder:
    """A ``MockTransport`` handler that records every request and delegates the answer."""

    handler: Handler
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def failing(kind: str) -> Handler:
    """A handler failing the way ``kind`` says: connect, timeout, 500, not-json."""

    def handler(request: httpx.Request) -> httpx.Response:
        if kind == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if kind == "500":
            return httpx.Response(500, text="internal error")
        if kind == "not-json":
            return httpx.Response(200, text="<html>proxy login</html>")
        raise AssertionError(kind)

    return handler


FAILURES = ("connect", "timeout", "500", "not-json")


class RequestsTransport(BaseAdapter):
    """A ``requests`` transport adapter answering from a function (or raising from it)."""

    def __init__(self, handler: Callable[[requests.PreparedRequest], tuple[int, Any]]) -> None:
        super().__init__()
        self.handler = handler
        self.requests: list[requests.PreparedRequest] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **_kwargs: Any
    ) -> requests.Response:
        self.requests.append(request)
        status, body = self.handler(request)
        response = requests.Response()
        response.status_code = status
        response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass
