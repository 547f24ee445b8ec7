"""In-memory stand-ins for the backends' HTTP APIs, as MockTransport handlers.

Their answers copy the shapes the real servers gave (Jaeger v2.13 with OpenSearch, OpenSearch
2.19, Alertmanager 0.25, the chaosgate sink), trimmed to the fields the backends read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["FakeElasticsearch", "FakeJaeger", "am_alert", "jaeger_trace"]


def jaeger_trace(
    trace_id: str, services: Iterable[str] = ("gateway", "orders"), *, start_us: int = 1_000_000
) -> dict[str, Any]:
    """A trace as ``/api/traces`` returns it: one server span per service, a DB span last."""
    names = list(services)
    processes = {f"p{i + 1}": {"serviceName": name, "tags": []} for i, name in enumerate(names)}
    spans = [
        {
            "traceID": trace_id,
            "spanID": f"{i + 1:016x}",
            "operationName": f"GET /api/{name}",
            "references": [],
            "startTime": start_us + i * 1000,
            "duration": 500,
            "tags": [{"key": "http.method", "type": "string", "value": "GET"}],
            "logs": [],
            "processID": f"p{i + 1}",
            "warnings": None,
        }
        for i, name in enumerate(names)
    ]
    if len(names) > 1:
        spans.append(
            {
                **spans[-1],
                "spanID": f"{99:016x}",
                "operationName": "SELECT orders.db",
                "tags": [{"key": "db.system", "type": "string", "value": "sqlite"}],
            }
        )
    return {"traceID": trace_id, "spans": spans, "processes": processes, "warnings": None}


@dataclass
class FakeJaeger:
    """``GET /api/traces?traceID=...``: found traces in ``data``, missing ids in ``errors``."""

    traces: dict[str, list[str]] = field(default_factory=dict)  # trace id -> services
    max_url_length: int | None = None  # answer 414 beyond this, like a proxy would

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/api/traces")
        if self.max_url_length is not None and len(str(request.url)) > self.max_url_length:
            return httpx.Response(414, text="Request-URI Too Large")
        ids = request.url.params.get_list("traceID")
        data = [jaeger_trace(i, self.traces[i]) for i in ids if i in self.traces]
        errors = [
            {"msg": "trace not found", "traceID": i.lstrip("0")}
            for i in ids
            if i not in self.traces
        ]
        body = {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": errors or None}
        return httpx.Response(200, json=body)


@dataclass
class FakeElasticsearch:
    """``_field_caps``, ``_search`` (terms query + terms aggregation) and ``_count``."""

    docs: list[dict[str, Any]] = field(default_factory=list)
    keyword_suffix: bool = False  # map strings as text + .keyword (Elasticsearch's default)
    searches: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        if endpoint == "_field_caps":
            return httpx.Response(200, json=self._field_caps(request))
        body = json.loads(request.content)
        if endpoint == "_count":
            return httpx.Response(200, json={"count": len(self.docs), "_shards": _SHARDS})
        assert endpoint == "_search", endpoint
        self.searches.append(body)
        return httpx.Response(200, json=self._search(body))

    def _field_caps(self, request: httpx.Request) -> dict[str, Any]:
        present = {name for doc in self.docs for name in doc}
        fields: dict[str, Any] = {}
        for name in request.url.params["fields"].split(","):
            base = name.removesuffix(".keyword")
            if base not in present:
                continue
            if base == "@timestamp":
                fields[name] = {"date": {"type": "date", "aggregatable": True}}
            elif not self.keyword_suffix and name == base:
                fields[name] = {"keyword": {"type": "keyword", "aggregatable": True}}
            elif self.keyword_suffix:
                keyword = name != base
                fields[name] = {
                    "keyword" if keyword else "text": {
                        "type": "keyword" if keyword else "text",
                        "aggregatable": keyword,
                    }
                }
        return {"indices": ["restaurant-logs-2026-01-01"] if self.docs else [], "fields": fields}

    def _search(self, body: Mapping[str, Any]) -> dict[str, Any]:
        [terms] = [f["terms"] for f in body["query"]["bool"]["filter"] if "terms" in f]
        ((field_name, values),) = terms.items()
        base = field_name.removesuffix(".keyword")
        wanted = set(values)
        aggs = body["aggs"]["ids"]
        assert aggs["terms"]["field"] == field_name
        buckets: dict[str, list[dict[str, Any]]] = {}
        for doc in self.docs:
            if doc.get(base) in wanted:
                buckets.setdefault(doc[base], []).append(doc)
        service_agg = aggs["aggs"].get("services")
        return {
            "took": 1,
            "timed_out": False,
            "_shards": _SHARDS,
            "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []},
            "aggregations": {
                "ids": {
                    "doc_count_error_upper_bound": 0,
                    "sum_other_doc_count": 0,
                    "buckets": [
                        {
                            "key": key,
                            "doc_count": len(docs),
                            "first": {"value": min(doc["@timestamp_ms"] for doc in docs)},
                            **(
                                {
                                    "services": {
                                        "buckets": [
                                            {"key": name, "doc_count": 1}
                                            for name in sorted({doc["service"] for doc in docs})
                                        ]
                                    }
                                }
                                if service_agg
                                else {}
                            ),
                        }
                        for key, docs in buckets.items()
                    ],
                }
            },
        }


_SHARDS = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}


def am_alert(
    alertname: str,
    *,
    fingerprint: str = "4e05fb5092683130",
    starts_at: str = "2026-11-25T14:29:56.183Z",
    ends_at: str = "2026-11-25T14:30:16.183Z",
    state: str = "active",
    **labels: str,
) -> dict[str, Any]:
    """An alert as Alertmanager 0.25's ``GET /api/v2/alerts`` lists it."""
    return {
        "annotations": {"summary": "x"},
        "endsAt": ends_at,
        "fingerprint": fingerprint,
        "receivers": [{"name": "sink"}],
        "startsAt": starts_at,
        "status": {"inhibitedBy": [], "silencedBy": [], "state": state},
        "updatedAt": starts_at,
        "generatorURL": "http://prometheus/graph",
        "labels": {"alertname": alertname, "severity": "critical", **labels},
    }
