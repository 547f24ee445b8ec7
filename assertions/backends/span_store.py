"""The store Jaeger writes its spans to (Elasticsearch / OpenSearch): which traces it holds.

Jaeger's own API answers a list of trace ids with one storage query per id (about 1.5 ms an
id here), so a ledger of 100,000 requests would cost minutes. Its span indices answer the same
question in a few searches: ``size: 0``, a ``terms`` filter on ``traceID`` bounded by the run's
time range, and a ``terms`` aggregation on ``traceID`` with the services of each trace
(``process.serviceName``) as a sub-aggregation; no span document travels.

What the store holds, learnt from the local stack (Jaeger v2, OpenSearch 2.19, index prefix
``jaeger``): one document per span in daily indices ``<prefix>-jaeger-span-YYYY-MM-DD``
(``jaeger-span-YYYY-MM-DD`` without a prefix), ``traceID`` a ``keyword`` of 32 lowercase hex
digits, ``process.serviceName`` a ``keyword``, the span's start as ``startTime`` (``long``,
microseconds) and ``startTimeMillis`` (``date``, ``epoch_millis``). The time range filters on
``startTimeMillis`` when the mapping has it, else on ``startTime``. Jaeger before 1.15 wrote
ids without leading zeros, and its own reader still asks for both forms, so an id that starts
with ``0`` is asked in both forms here too.

Batch size: a batch is at most :data:`DEFAULT_BATCH_SIZE` ids and its body at most
``max_body_bytes`` (1 MB: nginx's default ``client_max_body_size``, the tightest common proxy;
Elasticsearch itself takes 100 MB). The aggregation makes one bucket per trace and one per
service in it, so 1,000 traces of 3 services are 4,000 buckets, far under the 65,535 of
``search.max_buckets`` (OpenSearch, Elasticsearch 7.9+). A 413, or a refusal naming
``too_many_buckets`` or the index's ``max_terms_count``, halves the batch and is remembered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from assertions.backends.elasticsearch import _check_shards
from assertions.backends.errors import BackendError
from assertions.backends.index_api import INDEX_OPTIONS, IndexApi
from assertions.backends.jaeger import normalize_trace_id

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_BODY_BYTES",
    "NAME",
    "SpanStoreBackend",
    "SpanStoreTrace",
    "TimeRange",
]

NAME = "jaeger span store"
# ids a search: the terms aggregation's cost per id grows with its size (on the local stack's
# store, 1.3 M spans: 0.05 ms an id at 500-1,000 ids a search, 0.13 ms at 5,000)
DEFAULT_BATCH_SIZE = 1000
DEFAULT_MAX_BODY_BYTES = 1_000_000
TRACE_ID_FIELD = "traceID"
SERVICE_FIELD = "process.serviceName"
TIME_FIELDS = ("startTimeMillis", "startTime")  # preferred first
_TIME_SCALE = {"startTimeMillis": 1_000, "startTime": 1_000_000}  # unix seconds -> field unit
_SERVICES_PER_TRACE = 50
_BODY_OVERHEAD = 1024  # the query around the ids
_TERM_BYTES = 32 + 3  # '"<32 hex>",'
# what a refusal of a too-big search says early in its body (a BackendError quotes 200 chars)
_TOO_BIG = (
    "too_many_buckets",
    "too many buckets",
    "Terms Query request has exceeded",
    "max_terms_count",
    "too_many_clauses",
    "maxClauseCount",
)


@dataclass(frozen=True)
class TimeRange:
    """Unix seconds, both ends included: the spans looked at started in this range."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"time range ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class SpanStoreTrace:
    trace_id: str  # 32 lowercase hex
    span_count: int  # span documents in the range
    services: frozenset[str]


class SpanStoreBackend:
    """Jaeger's span indices ``index_pattern`` at ``url``; ``auth_headers`` go on every
    request (an ``Authorization`` header, as for the log store)."""

    name = NAME

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        index_pattern: str,
        auth_headers: Mapping[str, str] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size {batch_size!r} is not positive; give at least 1")
        if max_body_bytes < _BODY_OVERHEAD + 2 * _TERM_BYTES:
            raise ValueError(
                f"max_body_bytes {max_body_bytes!r} is too small for one id; give at least "
                f"{_BODY_OVERHEAD + 2 * _TERM_BYTES}"
            )
        self._api = IndexApi(client, NAME, url, index_pattern, auth_headers)
        self._batch_size = batch_size
        self._max_body_bytes = max_body_bytes
        self._batch_limit: int | None = None  # learnt from a refusal
        self._time_field: str | None = None

    @property
    def url(self) -> str:
        return self._api.url

    @property
    def index_pattern(self) -> str:
        return self._api.index_pattern

    @property
    def time_field(self) -> str | None:
        """The field the time range filters on, once resolved (None before, or when the
        indices have neither)."""
        return self._time_field

    def max_batch(self) -> int:
        """The ids one search carries: the batch size, less if the body would be too big
        (an id that starts with 0 is sent twice) or a refusal taught a smaller one."""
        fits = max(1, (self._max_body_bytes - _BODY_OVERHEAD) // (2 * _TERM_BYTES))
        limit = min(self._batch_size, fits)
        return min(limit, self._batch_limit) if self._batch_limit else limit

    def _resolve_fields(self) -> bool:
        """Whether the indices hold spans yet; resolves the time field once they do."""
        if self._time_field is not None:
            return True
        caps = self._api.field_caps((TRACE_ID_FIELD, *TIME_FIELDS))
        if not caps.get(TRACE_ID_FIELD):
            return False  # no span indexed yet (or the pattern matches no index)
        present = [name for name in TIME_FIELDS if caps.get(name)]
        if not present:
            raise BackendError(
                NAME,
                self._api.endpoint_url("_field_caps"),
                f"the span indices have {TRACE_ID_FIELD} but neither of {', '.join(TIME_FIELDS)}"
                "; is jaeger.span_store.index the pattern of Jaeger's span indices?",
            )
        self._time_field = present[0]
        return True

    def find_traces(self, trace_ids: Iterable[str], window: TimeRange) -> dict[str, SpanStoreTrace]:
        """The traces among ``trace_ids`` with a span that started within ``window``, keyed by
        normalized id. Ids that are not trace ids are never found. Raises
        :class:`BackendError` when a search fails or answers something malformed."""
        wanted = list(dict.fromkeys(t for raw in trace_ids if (t := normalize_trace_id(raw))))
        if not wanted or not self._resolve_fields():
            return {}
        found: dict[str, SpanStoreTrace] = {}
        pending = wanted
        while pending:
            size = self.max_batch()
            batch, rest = pending[:size], pending[size:]
            try:
                found.update(self._search(batch, window))
            except BackendError as exc:
                if _too_big(exc) and len(batch) > 1:
                    self._batch_limit = max(1, len(batch) // 2)
                    continue
                raise
            pending = rest
        return found

    def _search(self, batch: list[str], window: TimeRange) -> dict[str, SpanStoreTrace]:
        assert self._time_field is not None
        terms = [form for trace_id in batch for form in _stored_forms(trace_id)]
        scale = _TIME_SCALE[self._time_field]
        time_range: dict[str, Any] = {
            "gte": int(window.start * scale),
            "lte": int(window.end * scale) + 1,
        }
        if self._time_field == "startTimeMillis":
            time_range["format"] = "epoch_millis"
        body = {
            "size": 0,
            "track_total_hits": False,
            "query": {
                "bool": {
                    "filter": [
                        {"terms": {TRACE_ID_FIELD: terms}},
                        {"range": {self._time_field: time_range}},
                    ]
                }
            },
            "aggs": {
                "traces": {
                    "terms": {
                        "field": TRACE_ID_FIELD,
                        "size": len(terms),
                        "execution_hint": "map",
                    },
                    "aggs": {
                        "services": {"terms": {"field": SERVICE_FIELD, "size": _SERVICES_PER_TRACE}}
                    },
                }
            },
        }
        answer = self._api.call("POST", "_search", params=INDEX_OPTIONS, body=body)
        try:
            return _parse(answer, set(batch))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._api.malformed("_search", f"{type(exc).__name__}: {exc}") from exc


def _stored_forms(trace_id: str) -> tuple[str, ...]:
    legacy = trace_id.lstrip("0")
    return (trace_id, legacy) if legacy != trace_id else (trace_id,)


def _too_big(exc: BackendError) -> bool:
    return exc.status == 413 or (exc.status is not None and any(s in exc.reason for s in _TOO_BIG))


def _parse(answer: Any, wanted: set[str]) -> dict[str, SpanStoreTrace]:
    if not isinstance(answer, dict):
        raise TypeError(f"expected a JSON object, got {type(answer).__name__}")
    _check_shards(answer)
    aggregations = answer.get("aggregations")
    shards = answer.get("_shards")
    if aggregations is None and isinstance(shards, dict) and shards.get("total") == 0:
        return {}  # no index matched the pattern
    if not isinstance(aggregations, dict):
        raise TypeError("'aggregations' is not an object")
    buckets = aggregations["traces"]["buckets"]
    if not isinstance(buckets, list):
        raise TypeError(f"'aggregations.traces.buckets' is {type(buckets).__name__}, not a list")
    counts: dict[str, int] = {}
    services: dict[str, set[str]] = {}
    for bucket in buckets:
        key = str(bucket["key"])
        trace_id = key if key in wanted else normalize_trace_id(key)  # legacy: no leading 0s
        if trace_id is None or trace_id not in wanted:
            continue
        counts[trace_id] = counts.get(trace_id, 0) + int(bucket["doc_count"])
        names = services.setdefault(trace_id, set())
        names.update(str(item["key"]) for item in bucket["services"]["buckets"])
    return {
        trace_id: SpanStoreTrace(trace_id, counts[trace_id], frozenset(services[trace_id]))
        for trace_id in counts
    }
