"""The two queries a Jaeger user makes, each answered as data: a trace by id, a search by service.

``GET /api/traces/{id}`` answers 200 with the trace in ``data``, or 404 with ``{"errors":
[{"code": 404, "msg": "trace not found"}]}``: both are answers (a trace the store has not got
yet is still a query Jaeger answered). ``GET /api/traces?service=S&start=US&end=US&limit=N``
(start and end in microseconds) answers the traces found in ``data``. Any other status, a
transport error or a malformed body is a :class:`BackendError`. The check timing them is
:mod:`assertions.checks.query_latency`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from assertions.backends._http import join_url, request_json, strip_query
from assertions.backends.errors import BackendError

__all__ = ["JaegerQueries", "QueryAnswer"]

NAME = "jaeger"


@dataclass(frozen=True)
class QueryAnswer:
    traces: int  # traces in the answer (0 for a trace not found)
    spans: int


class JaegerQueries:
    """Jaeger's query API at ``url`` (the UI's base URL, e.g. http://jaeger:16686)."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        self._client = client
        self._traces_url = join_url(url, "/api/traces")

    @property
    def url(self) -> str:
        return self._traces_url

    def trace_by_id(self, trace_id: str) -> QueryAnswer:
        """``GET /api/traces/{trace_id}``: the trace, or 0 traces when Jaeger has none."""
        url = f"{self._traces_url}/{trace_id}"
        try:
            body = request_json(self._client, NAME, "GET", url)
        except BackendError as exc:
            if exc.status == 404:
                return QueryAnswer(traces=0, spans=0)
            raise
        return _answer(body, url)

    def search(self, service: str, start_unix: float, end_unix: float, limit: int) -> QueryAnswer:
        """``GET /api/traces?service=...``: the traces of ``service`` that started between
        ``start_unix`` and ``end_unix`` (at most ``limit``)."""
        params = {
            "service": service,
            "start": str(int(start_unix * 1_000_000)),
            "end": str(int(end_unix * 1_000_000)),
            "limit": str(limit),
        }
        body = request_json(self._client, NAME, "GET", self._traces_url, params=params)
        return _answer(body, self._traces_url)


def _answer(body: Any, url: str) -> QueryAnswer:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(body, dict) or "data" not in body:
        raise BackendError(NAME, strip_query(url), "malformed answer: no 'data' field")
    if data is None:
        return QueryAnswer(traces=0, spans=0)
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise BackendError(
            NAME, strip_query(url), "malformed answer: 'data' is not a list of traces"
        )
    return QueryAnswer(traces=len(data), spans=sum(len(t.get("spans") or []) for t in data))
