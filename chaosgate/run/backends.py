"""Build the assertion backends for a target (clients are passed in, never module-level)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import requests

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.gateway import GatewayBackend
from assertions.backends.jaeger import JaegerBackend
from assertions.backends.jaeger_queries import JaegerQueries
from assertions.backends.prometheus import PrometheusBackend
from assertions.backends.sink import SinkBackend
from assertions.backends.span_store import SpanStoreBackend
from assertions.checks.warmup import WarmupBackends
from chaosgate.target import Target, TargetError

__all__ = [
    "RunBackends",
    "build_backends",
    "build_span_store",
    "jaeger_queries_of",
    "span_store_of",
]

DEFAULT_TIMEOUT_S = 10.0  # Prometheus' per-request timeout when ``http`` sets no read timeout


@dataclass(frozen=True)
class RunBackends(WarmupBackends):
    """The warm-up's backends, Jaeger's span store when the target names it, and Jaeger's
    user-facing queries (timed by ``traces.query_latency``)."""

    span_store: SpanStoreBackend | None = None
    jaeger_queries: JaegerQueries | None = None


def span_store_of(backends: WarmupBackends) -> SpanStoreBackend | None:
    """The span store ``backends`` carry (None: traces are looked up through Jaeger's API)."""
    return backends.span_store if isinstance(backends, RunBackends) else None


def jaeger_queries_of(backends: WarmupBackends) -> JaegerQueries | None:
    """Jaeger's queries by id and by service, when ``backends`` carry them."""
    return backends.jaeger_queries if isinstance(backends, RunBackends) else None


def build_span_store(
    target: Target, http: httpx.Client, es_http: httpx.Client
) -> SpanStoreBackend | None:
    """The target's ``jaeger.span_store`` over the client whose TLS verification it asks for:
    ``http`` (which verifies), or ``es_http`` for ``verify_tls: false`` when the log store's
    client skips verification too. None when the target names no span store."""
    span = target.jaeger.span_store
    if span is None:
        return None
    if span.verify_tls:
        client = http
    elif not target.elasticsearch.verify_tls:
        client = es_http
    else:
        raise TargetError(
            "jaeger.span_store.verify_tls is false but elasticsearch.verify_tls is true; "
            "chaosgate has one client that skips TLS verification, the log store's: set both "
            "to false, or give the span store a certificate chaosgate can verify"
        )
    auth = span.auth
    if auth is not None and auth.password is None and auth.api_key is None:
        raise TargetError(
            "jaeger.span_store.auth: the credential has not been read; load the target with "
            "load_target(), which reads it from the *_env variable or *_file it names"
        )
    return SpanStoreBackend(client, span.url, span.index, span.auth_header())


def build_backends(
    target: Target, http: httpx.Client, es_http: httpx.Client, session: requests.Session
) -> RunBackends:
    """``es_http`` may differ from ``http`` in TLS verification (``elasticsearch.verify_tls``);
    Prometheus (over ``session``) gets ``http``'s read timeout, so every backend read is
    bounded alike."""
    es = target.elasticsearch
    return RunBackends(
        gateway=GatewayBackend(http, target.gateway_url),
        jaeger=JaegerBackend(http, target.jaeger.query_url),
        elasticsearch=ElasticsearchBackend(es_http, es.url, es.index_pattern, es.auth_header()),
        prometheus=PrometheusBackend(
            session, target.prometheus.url, timeout_s=http.timeout.read or DEFAULT_TIMEOUT_S
        ),
        alertmanager=AlertmanagerBackend(http, target.alertmanager.url),
        sink=SinkBackend(http, target.sink.url),
        span_store=build_span_store(target, http, es_http),
        jaeger_queries=JaegerQueries(http, target.jaeger.query_url),
    )
