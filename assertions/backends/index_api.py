"""One index pattern of a store that speaks the Elasticsearch REST API (Elasticsearch, OpenSearch).

What the log store (:mod:`assertions.backends.elasticsearch`) and Jaeger's span store
(:mod:`assertions.backends.span_store`) share: the URL of an endpoint under the pattern, a JSON
call with the store's auth headers (failures as :class:`BackendError` named after the backend),
the fields ``_field_caps`` knows, and the query options that let a pattern match no index yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from assertions.backends._http import join_url, request_json, request_json_and_headers
from assertions.backends.errors import BackendError
from assertions.backends.search_errors import response_error_reason

__all__ = ["INDEX_OPTIONS", "IndexApi"]

# a pattern that matches no index yet answers empty, not 404
INDEX_OPTIONS = {"ignore_unavailable": "true", "allow_no_indices": "true"}


class IndexApi:
    """``index_pattern`` at ``url``, asked as backend ``name``; ``auth_headers`` on every call."""

    def __init__(
        self,
        client: httpx.Client,
        name: str,
        url: str,
        index_pattern: str,
        auth_headers: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._name = name
        self.url = url.rstrip("/")
        self.index_pattern = index_pattern
        self._headers = dict(auth_headers or {})

    def endpoint_url(self, endpoint: str) -> str:
        return join_url(self.url, f"{self.index_pattern}/{endpoint}")

    def call(self, method: str, endpoint: str, *, params: Any = None, body: Any = None) -> Any:
        """The JSON answer of ``method`` on ``endpoint`` under the pattern."""
        return request_json(
            self._client,
            self._name,
            method,
            self.endpoint_url(endpoint),
            params=params,
            json_body=body,
            headers=self._headers,
            read_error=response_error_reason,
        )

    def root(self) -> tuple[str, Any, str | None]:
        """The cluster's root endpoint, its JSON answer (name, version, tagline) and its
        ``X-Elastic-Product`` header (Elasticsearch 7.14 and later send it; OpenSearch never)."""
        url = join_url(self.url, "/")
        answer, headers = request_json_and_headers(
            self._client,
            self._name,
            "GET",
            url,
            headers=self._headers,
            read_error=response_error_reason,
        )
        return url, answer, headers.get("x-elastic-product")

    def malformed(self, endpoint: str, detail: str) -> BackendError:
        return BackendError(
            self._name, self.endpoint_url(endpoint), f"malformed answer: {detail}"[:300]
        )

    def field_caps(self, names: Sequence[str]) -> Mapping[str, Any]:
        """``_field_caps`` of ``names`` over the pattern: field -> type -> capabilities (a field
        no index has is absent)."""
        answer = self.call(
            "GET", "_field_caps", params={"fields": ",".join(names), **INDEX_OPTIONS}
        )
        caps = answer.get("fields") if isinstance(answer, dict) else None
        if not isinstance(caps, dict):
            raise self.malformed("_field_caps", "no 'fields' object")
        return caps
