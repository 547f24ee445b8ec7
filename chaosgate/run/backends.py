"""Build the assertion backends for a target (clients are passed in, never module-level)."""

from __future__ import annotations

import httpx
import requests

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.gateway import GatewayBackend
from assertions.backends.jaeger import JaegerBackend
from assertions.backends.prometheus import PrometheusBackend
from assertions.backends.sink import SinkBackend
from assertions.checks.warmup import WarmupBackends
from chaosgate.target import Target

__all__ = ["build_backends"]

DEFAULT_TIMEOUT_S = 10.0  # Prometheus' per-request timeout when ``http`` sets no read timeout


def build_backends(
    target: Target, http: httpx.Client, es_http: httpx.Client, session: requests.Session
) -> WarmupBackends:
    """``es_http`` may differ from ``http`` in TLS verification (``elasticsearch.verify_tls``);
    Prometheus (over ``session``) gets ``http``'s read timeout, so every backend read is
    bounded alike."""
    es = target.elasticsearch
    return WarmupBackends(
        gateway=GatewayBackend(http, target.gateway_url),
        jaeger=JaegerBackend(http, target.jaeger.query_url),
        elasticsearch=ElasticsearchBackend(es_http, es.url, es.index_pattern, es.auth_header()),
        prometheus=PrometheusBackend(
            session, target.prometheus.url, timeout_s=http.timeout.read or DEFAULT_TIMEOUT_S
        ),
        alertmanager=AlertmanagerBackend(http, target.alertmanager.url),
        sink=SinkBackend(http, target.sink.url),
    )
