"""An in-memory stand-in for Jaeger's span indices in OpenSearch, as a MockTransport handler.

Its documents and answers copy the shapes the local stack gave (Jaeger v2 writing to
OpenSearch 2.19, data/opensearch-2.19-jaeger-spans.json): ``_field_caps`` from the span
mapping, ``_search`` with a ``terms`` + ``range`` filter and a ``terms`` aggregation on
``traceID`` with ``process.serviceName`` below it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["REAL_SAMPLE", "FakeSpanStore", "span_doc"]

REAL_SAMPLE: Mapping[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "opensearch-2.19-jaeger-spans.json").read_text()
)
_SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


def span_doc(trace_id: str, service: str, start_s: float, span_number: int = 1) -> dict[str, Any]:
    """A span document as Jaeger writes it (the real sample's first span, re-stamped)."""
    doc = copy.deepcopy(dict(REAL_SAMPLE["spans"][0]))
    start_us = int(start_s * 1_000_000)
    doc.update(
        traceID=trace_id,
        spanID=f"{span_number:016x}",
        startTime=start_us,
        startTimeMillis=start_us // 1000,
    )
    doc["process"]["serviceName"] = service
    return doc


def _mapped_type(path: str) -> str | None:
    node: Any = {"properties": REAL_SAMPLE["mapping_properties"]}
    for part in path.split("."):
        node = (node.get("properties") or {}).get(part)
        if node is None:
            return None
    return str(node.get("type", "object"))


@dataclass
class FakeSpanStore:
    docs: list[dict[str, Any]] = field(default_factory=list)
    time_fields: tuple[str, ...] = ("startTimeMillis", "startTime")  # what the mapping has
    max_terms: int | None = None  # refuse more terms, as an index's max_terms_count does
    searches: list[dict[str, Any]] = field(default_factory=list)

    def add(self, trace_id: str, services: Iterable[str], start_s: float) -> None:
        for number, service in enumerate(services, start=len(self.docs) + 1):
            self.docs.append(span_doc(trace_id, service, start_s, number))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        if endpoint == "_field_caps":
            return httpx.Response(200, json=self._field_caps(request))
        assert endpoint == "_search", endpoint
        body = json.loads(request.content)
        self.searches.append(body)
        return self._search(body)

    def _field_caps(self, request: httpx.Request) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.docs:
            for name in request.url.params["fields"].split(","):
                kind = _mapped_type(name)
                if kind is None or (name.startswith("startTime") and name not in self.time_fields):
                    continue
                fields[name] = {kind: {"type": kind, "searchable": True, "aggregatable": True}}
        return {"indices": REAL_SAMPLE["indices"][:1] if self.docs else [], "fields": fields}

    def _search(self, body: Mapping[str, Any]) -> httpx.Response:
        filters = body["query"]["bool"]["filter"]
        (terms,) = [f["terms"]["traceID"] for f in filters if "terms" in f]
        (ranges,) = [f["range"] for f in filters if "range" in f]
        ((time_field, bounds),) = ranges.items()
        if self.max_terms is not None and len(terms) > self.max_terms:
            reason = (
                f"The number of terms [{len(terms)}] used in the Terms Query request has "
                f"exceeded the allowed maximum of [{self.max_terms}]. This maximum can be set "
                "by changing the [index.max_terms_count] index level setting."
            )
            error = {"root_cause": [{"type": "illegal_argument_exception", "reason": reason}]}
            return httpx.Response(400, json={"error": error, "status": 400})
        wanted = set(terms)
        low, high = float(bounds["gte"]), float(bounds["lte"])
        buckets: dict[str, list[dict[str, Any]]] = {}
        for doc in self.docs:
            if doc["traceID"] in wanted and low <= float(doc[time_field]) <= high:
                buckets.setdefault(doc["traceID"], []).append(doc)
        template = REAL_SAMPLE["terms_agg_response"]
        answer = copy.deepcopy(dict(template))
        answer["hits"]["total"] = {"value": sum(map(len, buckets.values())), "relation": "eq"}
        answer["_shards"] = _SHARDS
        answer["aggregations"] = {
            "traces": {
                "doc_count_error_upper_bound": 0,
                "sum_other_doc_count": 0,
                "buckets": [
                    {
                        "key": key,
                        "doc_count": len(docs),
                        "services": {
                            "doc_count_error_upper_bound": 0,
                            "sum_other_doc_count": 0,
                            "buckets": [
                                {"key": name, "doc_count": count}
                                for name, count in _counted(
                                    d["process"]["serviceName"] for d in docs
                                )
                            ],
                        },
                    }
                    for key, docs in buckets.items()
                ],
            }
        }
        return httpx.Response(200, json=answer)


def _counted(names: Iterable[str]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return sorted(counts.items())
