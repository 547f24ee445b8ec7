"""Jaeger's query API: which of these trace ids are stored, and what each trace holds.

``GET /api/traces?traceID=a&traceID=b...`` fetches several traces by id in one request, with
no service name. Learnt from Jaeger v2 (v1.76.0 = v2.13.0, OpenSearch storage): the answer is
HTTP 200 whenever the ids parse; ``data`` lists the traces found (an id asked twice comes back
twice) and ``errors`` holds one ``{"msg": "trace not found", "traceID": ...}`` per missing id,
the id printed without leading zeros. A malformed id fails the whole request with HTTP 400, so
ids that are not hex are never sent (they are simply not found).

Batch size: Jaeger itself accepted a 65 KB URL (1,590 ids, the most httpx will send: its
URLs stop at 65,536 characters) and answers in time proportional to the number of ids (about
4 ms per id here), so bigger batches save little; an ingress or proxy in front of the query
service, though, commonly refuses request lines over 8 KB (nginx's default buffer) with 414.
So a batch is at most :data:`DEFAULT_BATCH_SIZE` ids and its URL at most ``max_url_length``
characters; a 414 or 431 halves the batch and is remembered for the next calls.

Version: Jaeger's query API has no version endpoint (v1's ``/version`` lives on the admin
port, which Jaeger v2 no longer serves). What the query service does expose is the UI's page at
its base URL: on start it writes its build information into that page as ``JAEGER_VERSION =
{"gitCommit": ..., "gitVersion": ..., "buildDate": ...};`` (also into the placeholder page of
a binary built without the UI). Those values are stamped at build time by Jaeger's release
build (``-ldflags -X``); a plain ``go build`` of the module, as the local stack's, leaves all
three empty, so :meth:`JaegerBackend.version` then answers version None and says why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from assertions.backends._http import join_url, request_json, request_text, strip_query
from assertions.backends.build_info import BuildInfo, text_or_none
from assertions.backends.errors import BackendError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_URL_LENGTH",
    "JaegerBackend",
    "TraceSummary",
    "normalize_trace_id",
]

DEFAULT_MAX_URL_LENGTH = 8192  # a request line every common proxy accepts
HTTPX_MAX_URL_LENGTH = 65_536  # httpx refuses longer URLs
_PARAM_LENGTH = len("traceID=") + 32 + 1  # "traceID=<32 hex>&"
DEFAULT_BATCH_SIZE = 190  # 190 ids: a 7.8 KB URL with a short base URL
NAME = "jaeger"
_HEX = re.compile(r"[0-9a-f]{1,32}")
_NOT_FOUND = "trace not found"
_TOO_LONG = (414, 431)
# what the query service writes into the UI's page (the placeholder still says DEFAULT_VERSION)
_PAGE_VERSION = re.compile(r"JAEGER_VERSION\s*=\s*(\{[^{}]*\})\s*;")
UNSTAMPED = (
    "Jaeger reports an empty version (JAEGER_VERSION in its UI page): its binary was built "
    "without Jaeger's release version stamps (-ldflags)"
)


@dataclass(frozen=True)
class TraceSummary:
    trace_id: str  # 32 lowercase hex
    services: frozenset[str]
    span_count: int
    operations: Mapping[str, frozenset[str]]  # service -> operation names
    has_db_span: bool  # a span carries a db.system tag
    earliest_start_unix: float  # start of the earliest span, unix seconds


def normalize_trace_id(trace_id: str) -> str | None:
    """32 lowercase hex digits (left-padded), or None when it is not a trace id."""
    text = trace_id.strip().lower()
    if not _HEX.fullmatch(text) or not text.strip("0"):
        return None
    return text.rjust(32, "0")


class JaegerBackend:
    """Jaeger's HTTP query API at ``url`` (the UI's base URL, e.g. http://jaeger:16686)."""

    name = NAME

    def __init__(
        self, client: httpx.Client, url: str, *, max_url_length: int = DEFAULT_MAX_URL_LENGTH
    ) -> None:
        if not 0 < max_url_length <= HTTPX_MAX_URL_LENGTH:
            raise ValueError(
                f"max_url_length {max_url_length!r} is out of range; "
                f"give 1 to {HTTPX_MAX_URL_LENGTH}"
            )
        self._client = client
        self._url = join_url(url, "/api/traces")
        self._page_url = join_url(url, "/")
        self._max_url_length = max_url_length
        self._batch_limit: int | None = None  # learnt from a 414/431

    @property
    def url(self) -> str:
        return self._url

    def max_batch(self, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
        """The ids one request carries: ``batch_size``, less if the URL would be too long."""
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size!r} is not positive; give at least 1")
        fits = max(1, (self._max_url_length - len(self._url) - 1) // _PARAM_LENGTH)
        limit = min(batch_size, fits)
        return min(limit, self._batch_limit) if self._batch_limit else limit

    def version(self) -> BuildInfo:
        """The build information the query service wrote into its UI page (see the module's
        docstring); version None, with a note in ``details``, when Jaeger left it empty.
        Raises :class:`BackendError` when the page cannot be had or carries no
        ``JAEGER_VERSION`` object."""
        page = request_text(self._client, NAME, self._page_url)
        match = _PAGE_VERSION.search(page)
        try:
            if match is None:
                raise ValueError("the page at the base URL carries no JAEGER_VERSION object")
            info = json.loads(match.group(1))
            if not isinstance(info, dict):
                raise TypeError(f"JAEGER_VERSION is {type(info).__name__}, not an object")
        except (TypeError, ValueError) as exc:
            raise BackendError(
                NAME, self._page_url, f"malformed answer: {type(exc).__name__}: {exc}"[:300]
            ) from exc
        version = text_or_none(info.get("gitVersion"))
        return BuildInfo(
            version=version,
            endpoint=self._page_url,
            revision=text_or_none(info.get("gitCommit")),
            build_date=text_or_none(info.get("buildDate")),
            details={} if version is not None else {"note": UNSTAMPED},
        )

    def find_traces(
        self, trace_ids: Iterable[str], *, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> dict[str, TraceSummary]:
        """The traces among ``trace_ids`` that Jaeger has, keyed by normalized id.

        Ids that are missing or not trace ids are absent from the answer. Raises
        :class:`BackendError` when any request fails.
        """
        wanted: dict[str, None] = {}
        for raw in trace_ids:
            normalized = normalize_trace_id(raw)
            if normalized is not None:
                wanted[normalized] = None
        pending = list(wanted)
        found: dict[str, TraceSummary] = {}
        while pending:
            size = self.max_batch(batch_size)
            batch, rest = pending[:size], pending[size:]
            try:
                found.update(self._fetch(batch))
            except BackendError as exc:
                if exc.status in _TOO_LONG and len(batch) > 1:
                    self._batch_limit = max(1, len(batch) // 2)
                    continue
                raise
            pending = rest
        return {trace_id: found[trace_id] for trace_id in wanted if trace_id in found}

    def _fetch(self, batch: list[str]) -> dict[str, TraceSummary]:
        params = [("traceID", trace_id) for trace_id in batch]
        body = request_json(self._client, NAME, "GET", self._url, params=params)
        try:
            return _parse(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackendError(
                NAME, strip_query(self._url), f"malformed answer: {type(exc).__name__}: {exc}"
            ) from exc


def _parse(body: Any) -> dict[str, TraceSummary]:
    if not isinstance(body, dict):
        raise TypeError(f"expected a JSON object, got {type(body).__name__}")
    errors = body.get("errors") or []
    if not isinstance(errors, list):
        raise TypeError("'errors' is not a list")
    for error in errors:
        message = error.get("msg") if isinstance(error, dict) else error
        if message != _NOT_FOUND:
            raise ValueError(f"jaeger reported {message!r}")
    if "data" not in body:
        # Jaeger always sends "data" (null when nothing is found): an answer without it is not
        # /api/traces' (a proxy's or another service's JSON), and reading it as "no trace found"
        # would turn a broken backend into missing traces
        raise ValueError(f"no 'data' field (keys: {sorted(body)[:10]!r})")
    data = body["data"] if body["data"] is not None else []
    if not isinstance(data, list):
        raise TypeError("'data' is not a list")
    spans_by_id: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for trace in data:
        trace_id = normalize_trace_id(str(trace["traceID"]))
        if trace_id is None:
            raise ValueError(f"traceID {trace['traceID']!r} is not a trace id")
        processes = trace.get("processes") or {}
        if not isinstance(processes, dict):
            raise TypeError("'processes' is not an object")
        bucket = spans_by_id.setdefault(trace_id, [])
        for span in trace["spans"]:
            process = span.get("process") or processes[span["processID"]]
            bucket.append((str(process["serviceName"]), span))
    return {trace_id: _summarize(trace_id, spans) for trace_id, spans in spans_by_id.items()}


def _summarize(trace_id: str, spans: list[tuple[str, dict[str, Any]]]) -> TraceSummary:
    operations: dict[str, set[str]] = {}
    seen: set[str] = set()
    has_db = False
    earliest: float | None = None
    for service, span in spans:
        span_id = str(span["spanID"])
        if span_id in seen:  # the same trace listed twice
            continue
        seen.add(span_id)
        operations.setdefault(service, set()).add(str(span["operationName"]))
        tags = span.get("tags") or []
        has_db = has_db or any(tag["key"] == "db.system" for tag in tags)
        start = int(span["startTime"]) / 1_000_000
        earliest = start if earliest is None else min(earliest, start)
    return TraceSummary(
        trace_id=trace_id,
        services=frozenset(operations),
        span_count=len(seen),
        operations={service: frozenset(names) for service, names in operations.items()},
        has_db_span=has_db,
        earliest_start_unix=earliest if earliest is not None else 0.0,
    )
