"""check_traces answered by Jaeger's span store, with a sample read through Jaeger's API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from assertions.backends.jaeger import JaegerBackend
from assertions.backends.span_store import SpanStoreBackend, TimeRange
from assertions.checks.traces import check_traces, ledger_window
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import LedgerEntry
from tests.support.clocks import FakeClock
from tests.unit.assertions.fake_backends import FakeJaeger
from tests.unit.assertions.fake_span_store import FakeSpanStore
from tests.unit.assertions.support import Recorder, entry, failing

FULL = ["gateway", "orders"]


def stores(
    traces: dict[str, list[str]],
    *,
    api: dict[str, list[str]] | None = None,
    start_s: float = 1000.0,
) -> tuple[Recorder, Recorder]:
    store = FakeSpanStore()
    for trace, services in traces.items():
        store.add(trace, services, start_s)
    return Recorder(store), Recorder(FakeJaeger(dict(traces if api is None else api)))


def run(
    entries: list[LedgerEntry], store: Recorder, jaeger: Recorder, **kwargs: Any
) -> tuple[CheckResult, FakeClock]:
    clock = FakeClock(now=1010.0)
    result = check_traces(
        entries,
        backend=JaegerBackend(jaeger.client(), "http://jaeger.test:16686"),
        span_store=SpanStoreBackend(store.client(), "http://os.test:9200", "jaeger-jaeger-span-*"),
        deadline_s=5,
        poll_interval_s=1.0,
        clock=clock,
        sleep=clock.sleep,
        **kwargs,
    )
    return result, clock


def test_presence_comes_from_the_store_and_a_sample_from_jaegers_api() -> None:
    entries = [entry(n) for n in range(1, 101)]
    store, jaeger = stores({e.trace_id: FULL for e in entries})
    result, _ = run(entries, store, jaeger, tree_sample=5)
    assert result.status is Status.PASSED
    evidence = result.evidence
    assert evidence["answered_by"] == "span store"
    assert evidence["span_store"]["time_field"] == "startTimeMillis"
    assert evidence["span_store"]["index"] == "jaeger-jaeger-span-*"
    tree = evidence["span_tree_sample"]
    assert tree["checked_by"] == "jaeger api" and len(tree["ids"]) == 5
    assert tree["problems"] == {}
    # the store answered the 100 ids in one search; Jaeger's API was asked only the sample
    assert sum(r.url.path.endswith("/_search") for r in store.requests) == 1
    (api_request,) = jaeger.requests
    assert sorted(api_request.url.params.get_list("traceID")) == tree["ids"]
    assert tree["span_counts"][tree["ids"][0]] == [2, 3]  # store's docs, the fake API's spans


def test_the_sample_is_seeded() -> None:
    entries = [entry(n) for n in range(1, 51)]
    first = run(entries, *stores({e.trace_id: FULL for e in entries}), tree_sample=3, seed=7)[0]
    again = run(entries, *stores({e.trace_id: FULL for e in entries}), tree_sample=3, seed=7)[0]
    other = run(entries, *stores({e.trace_id: FULL for e in entries}), tree_sample=3, seed=8)[0]
    ids = [r.evidence["span_tree_sample"]["ids"] for r in (first, again, other)]
    assert ids[0] == ids[1] != ids[2]


def test_a_trace_missing_from_the_store_fails_at_the_deadline() -> None:
    entries = [entry(1), entry(2)]
    store, jaeger = stores({entries[0].trace_id: FULL})
    result, clock = run(entries, store, jaeger)
    assert result.status is Status.FAILED
    assert result.evidence["missing_ids"] == [entries[1].trace_id]
    assert clock.now >= 1015.0


def test_a_trace_the_store_holds_but_jaegers_api_cannot_show_fails() -> None:
    entries = [entry(1), entry(2)]
    traces = {e.trace_id: FULL for e in entries}
    store, jaeger = stores(
        traces, api={entries[0].trace_id: FULL, entries[1].trace_id: ["gateway"]}
    )
    result, _ = run(entries, store, jaeger)
    assert result.status is Status.FAILED
    assert "1 of 2 sampled traces are not whole through Jaeger's API" in result.reason
    problems = result.evidence["span_tree_sample"]["problems"]
    assert list(problems) == [entries[1].trace_id]


def test_spans_outside_the_ledgers_window_are_not_counted() -> None:
    entries = [entry(1, started_at=5000.0)]
    store, jaeger = stores({entries[0].trace_id: FULL}, start_s=1000.0)  # an older trace
    result, _ = run(entries, store, jaeger)
    assert result.status is Status.FAILED


def test_the_window_is_the_ledgers_widened_by_the_slack() -> None:
    window = ledger_window([entry(1, started_at=100.0), entry(2, started_at=200.0, latency_s=2.0)])
    assert window == TimeRange(40.0, 262.0)
    with pytest.raises(ValueError, match="empty ledger"):
        ledger_window([])


def test_a_failing_store_is_an_error_result_and_jaeger_is_not_asked() -> None:
    entries = [entry(1)]
    jaeger = Recorder(FakeJaeger({entries[0].trace_id: FULL}))
    result, _ = run(entries, Recorder(failing("500")), jaeger)
    assert result.status is Status.ERROR
    assert result.evidence["answered_by"] == "span store"
    assert result.evidence["backend_failed"] is True
    assert jaeger.requests == []


def test_jaegers_api_failing_on_the_sample_is_an_error_saying_so() -> None:
    entries = [entry(1)]
    store, _ = stores({entries[0].trace_id: FULL})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result, _ = run(entries, store, Recorder(down))
    assert result.status is Status.ERROR
    assert "Jaeger's API could not be read for the span-tree sample" in result.reason


def test_without_a_span_store_the_jaeger_api_answers_and_says_so() -> None:
    entries = [entry(1)]
    jaeger = Recorder(FakeJaeger({entries[0].trace_id: FULL}))
    clock = FakeClock(now=1010.0)
    result = check_traces(
        entries,
        backend=JaegerBackend(jaeger.client(), "http://jaeger.test:16686"),
        deadline_s=5,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.passed
    assert result.evidence["answered_by"] == "jaeger api"
    assert "span_tree_sample" not in result.evidence


def test_an_index_pattern_that_matches_no_span_index_is_an_error_naming_it() -> None:
    entries = [entry(1)]
    jaeger = Recorder(FakeJaeger({entries[0].trace_id: FULL}))
    result, _ = run(entries, Recorder(FakeSpanStore()), jaeger)  # no span at all
    assert result.status is Status.ERROR
    assert "no index matching 'jaeger-jaeger-span-*'" in result.reason
    assert jaeger.requests == []
