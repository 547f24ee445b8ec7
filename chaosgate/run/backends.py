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


def build_backends(
    target: Target, http: httpx.Client, es_http: httpx.Client, session: requests.Session
) -> WarmupBackends:
    """``es_http`` may differ from ``http`` in TLS verification (``elasticsearch.verify_tls``)."""
    es = target.elasticsearch
    return WarmupBackends(
        gateway=GatewayBackend(http, target.gateway_url),
        jaeger=JaegerBackend(http, target.jaeger.query_url),
        elasticsearch=ElasticsearchBackend(es_http, es.url, es.index_pattern, es.auth_header()),
        prometheus=PrometheusBackend(session, target.prometheus.url),
        alertmanager=AlertmanagerBackend(http, target.alertmanager.url),
        sink=SinkBackend(http, target.sink.url),
    )
