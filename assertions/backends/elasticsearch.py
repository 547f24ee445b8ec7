"""Elasticsearch / OpenSearch over REST: which of these ids appear in the logs, and when.

One ``_search`` per batch of up to 1,000 ids: ``size: 0``, a ``terms`` query on the id field
and a ``terms`` aggregation on it with, per id, the earliest timestamp, the number of lines and
the services that wrote them, so 10,000 ids cost 10 requests and no documents travel. The id
field is resolved once through ``_field_caps``: the field itself when it is aggregatable (a
``keyword``, as in the local stack's index template), else its ``.keyword`` sub-field (the
default dynamic mapping of Elasticsearch 7/8). Only REST calls every version shares are used
(``_field_caps``, ``_search``, ``_count``, and the root endpoint for the version), so
Elasticsearch 7, 8 and OpenSearch all answer. Which one answered is read from the root
endpoint (:func:`store_product`), and an error body in either store's form becomes a one-line
reason (:mod:`assertions.backends.search_errors`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from assertions.backends.build_info import BuildInfo, details_of, text_or_none
from assertions.backends.errors import BackendError
from assertions.backends.index_api import INDEX_OPTIONS, IndexApi

__all__ = [
    "ELASTICSEARCH_TAGLINE",
    "MAX_TERMS_BATCH",
    "ElasticsearchBackend",
    "LogSummary",
    "store_product",
]

NAME = "elasticsearch"
MAX_TERMS_BATCH = 1000
_SERVICES_PER_ID = 20


@dataclass(frozen=True)
class LogSummary:
    id: str
    doc_count: int
    first_timestamp_unix: float | None  # the earliest line's timestamp (None if it has none)
    services: frozenset[str]


class ElasticsearchBackend:
    """Searches ``index_pattern`` at ``url``; ``auth_headers`` go on every request."""

    name = NAME

    def __init__(
        self,
        client: httpx.Client,
        url: str,
        index_pattern: str,
        auth_headers: Mapping[str, str] | None = None,
        *,
        service_field: str = "service",
    ) -> None:
        self._api = IndexApi(client, NAME, url, index_pattern, auth_headers)
        self._service_field = service_field
        self._resolved: dict[str, str] = {}

    @property
    def url(self) -> str:
        return self._api.url

    def version(self) -> BuildInfo:
        """What the cluster says it is at its root endpoint: its product as
        :func:`store_product` reads it (detail ``distribution``) and ``version.number``, with
        build hash, date, flavor, Lucene version, tagline and ``X-Elastic-Product`` header
        when given."""
        url, answer, product_header = self._api.root()
        version = answer.get("version") if isinstance(answer, dict) else None
        number = version.get("number") if isinstance(version, dict) else None
        if not isinstance(version, dict) or not isinstance(number, str):
            raise BackendError(NAME, url, "malformed answer: no string 'version.number'")
        return BuildInfo(
            version=number,
            endpoint=url,
            revision=text_or_none(version.get("build_hash")),
            build_date=text_or_none(version.get("build_date")),
            details=details_of(
                {
                    "distribution": store_product(answer, product_header),
                    "build_flavor": version.get("build_flavor"),
                    "lucene_version": version.get("lucene_version"),
                    "tagline": answer.get("tagline"),
                    "product_header": product_header,
                }
            ),
        )

    def aggregatable_fields(self, *fields: str) -> dict[str, str]:
        """For each field present in the indices, the name to query and aggregate it by.

        Fields absent from every index (no log line has arrived yet) are left out and looked
        up again next time.
        """
        missing = [name for name in fields if name not in self._resolved]
        if missing:
            caps = self._api.field_caps(
                [name for field in missing for name in (field, f"{field}.keyword")]
            )
            for field in missing:
                self._refuse_mixed_mapping(caps, field)
                present, resolved = _pick_aggregatable(caps, field)
                if present and resolved is None:
                    raise BackendError(
                        NAME,
                        self._api.endpoint_url("_field_caps"),
                        f"field {field!r} is not aggregatable (text without a .keyword "
                        "sub-field); point the configured field at a keyword field",
                    )
                if resolved is not None:
                    self._resolved[field] = resolved
        return {field: self._resolved[field] for field in fields if field in self._resolved}

    def _refuse_mixed_mapping(self, caps: Mapping[str, Any], field: str) -> None:
        """A BackendError when ``field`` is a keyword in some indices and text in others: no one
        name aggregates it in all of them (``field`` fails on the text ones, ``field.keyword``
        misses the keyword ones), and a search by either would miss lines without a word."""
        types = caps.get(field)
        if not isinstance(types, dict) or len(types) < 2:
            return
        kinds = {kind: info for kind, info in types.items() if isinstance(info, dict)}
        aggregatable = sorted(kind for kind, info in kinds.items() if info.get("aggregatable"))
        not_aggregatable = sorted(kind for kind in kinds if kind not in aggregatable)
        if not aggregatable or not not_aggregatable:
            return

        def where(kind_names: list[str]) -> str:
            indices = [i for kind in kind_names for i in kinds[kind].get("indices") or []]
            return f"{'/'.join(kind_names)} in {', '.join(sorted(indices)) or '?'}"

        raise BackendError(
            NAME,
            self._api.endpoint_url("_field_caps"),
            f"field {field!r} is mapped differently across {self._api.index_pattern!r}: "
            f"{where(aggregatable)} but {where(not_aggregatable)}; no one field name covers "
            "every index, so ids would be missed: narrow index_pattern to indices mapped "
            "alike, or reindex the others with the same mapping",
        )

    def find_ids(
        self,
        field: str,
        ids: Iterable[str],
        *,
        batch_size: int = MAX_TERMS_BATCH,
        timestamp_field: str = "@timestamp",
    ) -> dict[str, LogSummary]:
        """The ids among ``ids`` that some log line carries in ``field``, with a summary each.

        Raises :class:`BackendError` when any request fails or answers something malformed.
        """
        if not 1 <= batch_size <= MAX_TERMS_BATCH:
            raise ValueError(
                f"batch_size {batch_size!r} is out of range; give 1 to {MAX_TERMS_BATCH}"
            )
        wanted = list(dict.fromkeys(str(value) for value in ids))
        if not wanted:
            return {}
        fields = self.aggregatable_fields(field, self._service_field)
        if field not in fields:
            return {}  # no index has the field yet: nothing is found
        found: dict[str, LogSummary] = {}
        for start in range(0, len(wanted), batch_size):
            batch = wanted[start : start + batch_size]
            body = _search_body(
                fields[field], batch, timestamp_field, fields.get(self._service_field)
            )
            answer = self._api.call("POST", "_search", params=INDEX_OPTIONS, body=body)
            try:
                found.update(_parse_buckets(answer, set(batch)))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                raise self._api.malformed("_search", f"{type(exc).__name__}: {exc}") from exc
        return found

    def count(self, query: Mapping[str, Any]) -> int:
        """How many documents match ``query`` (a query DSL object, e.g. ``{"term": {...}}``)."""
        answer = self._api.call("POST", "_count", params=INDEX_OPTIONS, body={"query": dict(query)})
        value = answer.get("count") if isinstance(answer, dict) else None
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._api.malformed("_count", "no integer 'count'")
        try:
            _check_shards(answer)
        except (TypeError, ValueError) as exc:
            raise self._api.malformed("_count", str(exc)) from exc
        return value


ELASTICSEARCH_TAGLINE = "You Know, for Search"


def store_product(root: Mapping[str, Any], product_header: str | None) -> str:
    """Which store answered at its root: ``opensearch`` when ``version.distribution`` says so
    (OpenSearch's only mark: its tagline differs, it sends no product header);
    ``elasticsearch`` when the ``X-Elastic-Product`` header says ``Elasticsearch`` (7.14 and
    later, what Elastic's own clients require) or, before 7.14, the Elasticsearch tagline with
    no distribution; otherwise the distribution named, or ``unknown``."""
    version = root.get("version")
    distribution = version.get("distribution") if isinstance(version, dict) else None
    if isinstance(distribution, str) and distribution.strip():
        return distribution.strip().lower()
    if product_header == "Elasticsearch" or root.get("tagline") == ELASTICSEARCH_TAGLINE:
        return "elasticsearch"
    return "unknown"


def _pick_aggregatable(caps: Mapping[str, Any], field: str) -> tuple[bool, str | None]:
    """Whether ``field`` is in some index, and the name to aggregate it by (None: cannot)."""
    present = False
    for name in (field, f"{field}.keyword"):
        types = caps.get(name)
        if not isinstance(types, dict) or not types:
            continue
        present = True
        if all(isinstance(info, dict) and info.get("aggregatable") for info in types.values()):
            return True, name
    return present, None


def _search_body(
    field: str, batch: list[str], timestamp_field: str, service_field: str | None
) -> dict[str, Any]:
    per_id: dict[str, Any] = {"first": {"min": {"field": timestamp_field}}}
    if service_field is not None:
        per_id["services"] = {"terms": {"field": service_field, "size": _SERVICES_PER_ID}}
    # filter context (no scores) and a ``map`` terms aggregation: an id field has as many
    # values as lines, and the default (global ordinals over the whole index, rebuilt after
    # every refresh while logs arrive) cost 150-400 ms a batch of 1,000 on the local stack's
    # store, against 40-60 ms this way (measured on 100,000 request ids)
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": [{"terms": {field: batch}}]}},
        "aggs": {
            "ids": {
                "terms": {"field": field, "size": len(batch), "execution_hint": "map"},
                "aggs": per_id,
            }
        },
    }


def _check_shards(answer: Mapping[str, Any]) -> None:
    if answer.get("timed_out") is True:
        raise ValueError("the search timed out on the server (partial results)")
    shards = answer.get("_shards")
    if shards is not None and not isinstance(shards, dict):
        raise TypeError(f"'_shards' is {type(shards).__name__}, not an object")
    if isinstance(shards, dict) and shards.get("failed"):
        failures = shards.get("failures") or []
        first = failures[0].get("reason") if failures and isinstance(failures[0], dict) else ""
        raise ValueError(f"{shards['failed']} of {shards.get('total')} shards failed {first}")


def _parse_buckets(answer: Any, wanted: set[str]) -> dict[str, LogSummary]:
    if not isinstance(answer, dict):
        raise TypeError(f"expected a JSON object, got {type(answer).__name__}")
    _check_shards(answer)
    aggregations = answer.get("aggregations")
    shards = answer.get("_shards")
    if aggregations is None and isinstance(shards, dict) and shards.get("total") == 0:
        return {}  # no index matched the pattern: the answer has no aggregations
    if not isinstance(aggregations, dict):
        raise TypeError("'aggregations' is not an object")
    buckets = aggregations["ids"]["buckets"]
    if not isinstance(buckets, list):
        raise TypeError(f"'aggregations.ids.buckets' is {type(buckets).__name__}, not a list")
    found: dict[str, LogSummary] = {}
    for bucket in buckets:
        key = str(bucket["key"])
        if key not in wanted:
            continue
        first = bucket.get("first", {}).get("value")
        services = bucket.get("services", {}).get("buckets", [])
        found[key] = LogSummary(
            id=key,
            doc_count=int(bucket["doc_count"]),
            first_timestamp_unix=float(first) / 1000 if first is not None else None,
            services=frozenset(str(item["key"]) for item in services),
        )
    return found
