"""The target's ``jaeger.span_store`` reaches the trace checks: built by build_backends, asked
by completeness_checks; without it nothing changes. Backends are faked at the transport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import requests
from pydantic import SecretStr

from chaosgate.run.backends import build_backends, span_store_of
from chaosgate.run.judging import completeness_checks
from chaosgate.target import Target, TargetError, local_target
from chaosgate.target_models import (
    LOCAL_SPAN_INDEX,
    ElasticsearchAuth,
    ElasticsearchConfig,
    JaegerConfig,
    SpanStoreConfig,
)
from refstack.launcher.configs import JAEGER_INDEX_PREFIX
from tests.unit.assertions.fake_backends import FakeElasticsearch, FakeJaeger
from tests.unit.assertions.fake_span_store import FakeSpanStore
from tests.unit.assertions.support import Recorder, entry
from tests.unit.run.plans import smoke_plan, target_at

ENTRIES = [entry(n, started_at=1000.0 + n) for n in range(1, 5)]
FULL = ["gateway", "orders"]


def test_the_local_targets_span_store_is_the_stacks_opensearch_and_jaegers_index() -> None:
    target = local_target({"store": 19200})
    assert target.jaeger.span_store == SpanStoreConfig(url="http://127.0.0.1:19200")
    assert f"{JAEGER_INDEX_PREFIX}-jaeger-span-*" == LOCAL_SPAN_INDEX
    assert target.jaeger.query_latency_bound_s == 1.0
    # a target that names no span store has none (every trace through Jaeger's API)
    assert Target().jaeger.span_store is None


def test_build_backends_carries_the_span_store_only_when_the_target_names_it() -> None:
    with httpx.Client() as http, requests.Session() as session:
        assert span_store_of(build_backends(Target(), http, http, session)) is None
        store = span_store_of(build_backends(local_target(), http, http, session))
        assert store is not None and store.index_pattern == LOCAL_SPAN_INDEX


def test_a_span_store_that_skips_tls_verification_needs_the_log_stores_client() -> None:
    target = Target(jaeger=JaegerConfig(span_store=SpanStoreConfig(verify_tls=False)))
    with httpx.Client() as http, requests.Session() as session:
        with pytest.raises(TargetError, match=r"elasticsearch\.verify_tls is true"):
            build_backends(target, http, http, session)
        relaxed = target.model_copy(update={"elasticsearch": ElasticsearchConfig(verify_tls=False)})
        assert span_store_of(build_backends(relaxed, http, http, session)) is not None


def test_completeness_checks_ask_the_span_store_when_the_target_names_it(tmp_path: Path) -> None:
    store = FakeSpanStore()
    for e in ENTRIES:
        store.add(e.trace_id, FULL, e.started_at)
    jaeger = Recorder(FakeJaeger({e.trace_id: FULL for e in ENTRIES}))
    es = FakeElasticsearch(
        [{"trace_id": e.trace_id, "service": "gateway", "@timestamp": "x",
          "@timestamp_ms": e.started_at * 1000} for e in ENTRIES]
    )  # fmt: skip
    faked = target_at(
        "http://jaeger.test:16686", "http://es.test:9200", "http://unused.test:1",
        "http://unused.test:1", "http://unused.test:1", deadline_s=0.3,
    )  # fmt: skip
    jaeger_config = JaegerConfig(
        query_url="http://jaeger.test:16686",
        span_store=SpanStoreConfig(url="http://os.test:9200"),
    )
    target = faked.model_copy(update={"jaeger": jaeger_config})

    def route(request: httpx.Request) -> httpx.Response:
        return store(request) if request.url.host == "os.test" else jaeger(request)

    with (
        httpx.Client(transport=httpx.MockTransport(route)) as http,
        httpx.Client(transport=httpx.MockTransport(es)) as es_http,
        requests.Session() as session,
    ):
        plan = smoke_plan(target, tmp_path)
        checks = completeness_checks(
            plan, ENTRIES, [], build_backends(target, http, es_http, session)
        )
    traces = checks[0]
    assert traces.name == "traces.completeness" and traces.passed, traces.reason
    assert traces.evidence["answered_by"] == "span store"
    assert len(store.searches) == 1
    # Jaeger's API was asked once: for the span-tree sample
    assert len(jaeger.requests) == 1


def test_a_span_store_credential_that_was_not_read_is_refused_naming_it() -> None:
    auth = ElasticsearchAuth(username="jaeger", password_env="SPANS_PASSWORD")
    target = Target(jaeger=JaegerConfig(span_store=SpanStoreConfig(auth=auth)))
    with (
        httpx.Client() as http,
        requests.Session() as session,
        pytest.raises(TargetError, match=r"jaeger\.span_store\.auth: .*credential"),
    ):
        build_backends(target, http, http, session)
    read = auth.model_copy(update={"password": SecretStr("s3cret")})
    with httpx.Client() as http, requests.Session() as session:
        target = Target(jaeger=JaegerConfig(span_store=SpanStoreConfig(auth=read)))
        assert span_store_of(build_backends(target, http, http, session)) is not None
