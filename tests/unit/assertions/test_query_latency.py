"""traces.query_latency: Jaeger's queries timed during and after the load, with a fake clock
that the faked Jaeger (a MockTransport handler) moves on by each query's latency."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from assertions.backends.jaeger_queries import JaegerQueries
from assertions.checks.query_latency import (
    QueryLatencyProbe,
    QuerySample,
    check_query_latency,
    evaluate_query_latency,
)
from assertions.result import Status
from chaosgate.request_ledger import LedgerTail
from chaosgate.vocabulary import FaultWindow
from tests.support.clocks import FakeClock
from tests.support.waiting import wait_until
from tests.unit.assertions.fake_backends import jaeger_trace
from tests.unit.assertions.support import Recorder, entry

URL = "http://jaeger.test:16686"


def slow_jaeger(
    clock: FakeClock,
    *,
    by_id_s: float = 0.2,
    search_s: float = 0.4,
    known: frozenset[str] | None = None,
    fail: Callable[[httpx.Request], httpx.Response | None] = lambda _request: None,
) -> Recorder:
    """Jaeger answering ``/api/traces/{id}`` after ``by_id_s`` and a search after ``search_s``
    (of the fake clock)."""

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        by_id = path != "/api/traces"
        clock.advance(by_id_s if by_id else search_s)
        failed = fail(request)
        if failed is not None:
            return failed
        if by_id:
            trace = path.rsplit("/", 1)[-1]
            if known is not None and trace not in known:
                return httpx.Response(
                    404, json={"data": None, "errors": [{"code": 404, "msg": "trace not found"}]}
                )
            return httpx.Response(200, json={"data": [jaeger_trace(trace)], "errors": None})
        return httpx.Response(200, json={"data": [jaeger_trace("ab" * 16)], "errors": None})

    return Recorder(handler)


def write_ledger(directory: Path, numbers: range, *, name: str = "ledger-h-1.jsonl") -> None:
    directory.mkdir(exist_ok=True)
    with (directory / name).open("a") as out:
        for number in numbers:
            out.write(entry(number, started_at=1000.0 + number).to_json() + "\n")


def probe_for(
    recorder: Recorder, ledger: Path, clock: FakeClock, **kwargs: object
) -> QueryLatencyProbe:
    return QueryLatencyProbe(
        JaegerQueries(recorder.client(), URL),
        LedgerTail(ledger),
        window_start=1000.0,
        clock=clock,
        timer=clock,
        **kwargs,  # type: ignore[arg-type]
    )


def test_queries_are_timed_during_and_after_the_load_and_judged_by_p95(tmp_path: Path) -> None:
    clock = FakeClock(now=2000.0)
    recorder = slow_jaeger(clock)
    ledger = tmp_path / "ledger"
    write_ledger(ledger, range(1, 4))
    probe = probe_for(recorder, ledger, clock, after_rounds=3, after_interval_s=1.5)
    probe.poll_once()
    write_ledger(ledger, range(4, 6))
    probe.poll_once()
    probe.stop()
    probe.measure_after(clock.sleep)
    result = probe.result(1.0)
    assert result.name == "traces.query_latency"
    assert result.status is Status.PASSED, result.reason
    assert result.observed["by_id"]["during"] == {"p50": 0.2, "p95": 0.2, "max": 0.2}
    assert result.observed["search"]["after"]["p95"] == 0.4
    assert result.observed["by_id"]["queries"] == 5 and result.observed["search"]["queries"] == 5
    assert result.latency_s == 0.4
    assert clock.slept == [1.5, 1.5]  # between the three rounds after the load
    phases = [s["phase"] for s in result.evidence["samples"]]
    assert phases == ["during"] * 4 + ["after"] * 6
    # the first round asked an id the ledger had just gained
    first_id = recorder.requests[0].url.path.rsplit("/", 1)[-1]
    assert first_id in {entry(n).trace_id for n in range(1, 4)}
    second_id = recorder.requests[2].url.path.rsplit("/", 1)[-1]
    assert second_id in {entry(n).trace_id for n in range(4, 6)}


def test_searches_take_the_services_in_turn_over_the_runs_window(tmp_path: Path) -> None:
    clock = FakeClock(now=2000.0)
    recorder = slow_jaeger(clock)
    ledger = tmp_path / "ledger"
    write_ledger(ledger, range(1, 2))
    probe = probe_for(recorder, ledger, clock, services=("gateway", "orders"), after_rounds=1)
    probe.poll_once()
    probe.poll_once()
    probe.measure_after(clock.sleep, window_end=2100.0)
    searches = [r.url.params for r in recorder.requests if r.url.path == "/api/traces"]
    assert [p["service"] for p in searches] == ["gateway", "orders", "gateway"]
    assert searches[0]["start"] == str(1000 * 10**6)
    assert searches[0]["end"] == str(2000 * 10**6)  # the clock as the round began
    assert searches[2]["end"] == str(2100 * 10**6) and searches[0]["limit"] == "20"


def test_a_slow_search_fails_the_check_naming_its_p95(tmp_path: Path) -> None:
    clock = FakeClock(now=2000.0)
    ledger = tmp_path / "ledger"
    write_ledger(ledger, range(1, 3))
    probe = probe_for(slow_jaeger(clock, search_s=1.5), ledger, clock, after_rounds=2)
    probe.poll_once()
    probe.measure_after(clock.sleep)
    result = probe.result(1.0)
    assert result.status is Status.FAILED
    assert result.reason == "search-by-service p95 1.5 s: over the 1 s bound"
    assert result.observed["by_id"]["all"]["p95"] == 0.2


def test_a_trace_not_found_is_still_an_answer(tmp_path: Path) -> None:
    clock = FakeClock(now=2000.0)
    ledger = tmp_path / "ledger"
    write_ledger(ledger, range(1, 2))
    probe = probe_for(slow_jaeger(clock, known=frozenset()), ledger, clock, after_rounds=1)
    probe.measure_after(clock.sleep)
    result = probe.result(1.0)
    assert result.passed
    assert result.evidence["samples"][0]["outcome"] == "not found"


def test_a_timed_out_query_counts_with_the_time_it_took() -> None:
    clock = FakeClock(now=2000.0)

    def timing_out(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ReadTimeout("timed out", request=request)

    recorder = slow_jaeger(clock, by_id_s=3.0, fail=timing_out)
    result = check_query_latency(
        [entry(1)], queries=JaegerQueries(recorder.client(), URL), window=(1000.0, 1100.0),
        rounds=2, sleep=clock.sleep, timer=clock,
    )  # fmt: skip
    assert result.status is Status.FAILED
    assert result.observed["by_id"]["all"]["p95"] == 3.0
    assert result.observed["failed_queries"] == 0


def test_failed_queries_within_the_bound_are_an_error_not_a_pass() -> None:
    clock = FakeClock(now=2000.0)

    def search_down(request: httpx.Request) -> httpx.Response | None:
        return (
            httpx.Response(503, text="unavailable") if request.url.path == "/api/traces" else None
        )

    recorder = slow_jaeger(clock, fail=search_down)
    result = check_query_latency(
        [entry(1)], queries=JaegerQueries(recorder.client(), URL), window=(1000.0, 1100.0),
        rounds=3, sleep=clock.sleep, timer=clock,
    )  # fmt: skip
    assert result.status is Status.ERROR
    assert result.reason.startswith("no search-by-service query was answered: jaeger at")
    assert "HTTP 503" in result.evidence["errors"][-1]


def test_after_the_fact_rounds_are_spaced_and_seeded() -> None:
    clock = FakeClock(now=2000.0)
    entries = [entry(n) for n in range(1, 50)]

    def paths(seed: int) -> list[str]:
        recorder = slow_jaeger(clock)
        result = check_query_latency(
            entries, queries=JaegerQueries(recorder.client(), URL), window=(1000.0, 1100.0),
            rounds=4, interval_s=0.5, seed=seed, sleep=clock.sleep, timer=clock,
        )  # fmt: skip
        assert result.passed
        return [r.url.path for r in recorder.requests]

    first = paths(3)
    assert clock.slept == [0.5, 0.5, 0.5]
    assert paths(3) == first != paths(4)


def test_no_query_at_all_is_an_error() -> None:
    result = evaluate_query_latency([], bound_s=1.0)
    assert result.status is Status.ERROR and "no Jaeger query was timed" in result.reason


@pytest.mark.parametrize(("seconds", "status"), [(0.99, Status.PASSED), (1.01, Status.FAILED)])
def test_the_bound_is_inclusive_below(seconds: float, status: Status) -> None:
    samples = [QuerySample("after", kind, seconds, "found", True) for kind in ("by_id", "search")]
    assert evaluate_query_latency(samples, bound_s=1.0).status is status


def test_the_probe_thread_runs_rounds_until_stopped(tmp_path: Path) -> None:
    clock = FakeClock(now=2000.0)
    ledger = tmp_path / "ledger"
    write_ledger(ledger, range(1, 3))
    probe = probe_for(slow_jaeger(clock), ledger, clock, interval_s=0.01).start()
    try:
        wait_until(lambda: len(probe.samples) >= 4, timeout_s=5.0, message="four timed queries")
    finally:
        probe.stop()
    assert {s.phase for s in probe.samples} == {"during"}


def test_queries_inside_a_fault_window_are_counted_but_not_judged() -> None:
    slow = [QuerySample("during", k, 5.0, "found", True, at=1010.0) for k in ("by_id", "search")]
    fast = [QuerySample("after", k, 0.1, "found", True, at=1100.0) for k in ("by_id", "search")]
    window = FaultWindow(1005.0, 1020.0, "kill-jaeger")
    result = evaluate_query_latency([*slow, *fast], bound_s=1.0, fault_windows=[window])
    assert result.passed
    assert result.evidence["excluded_in_fault_windows"] == 2
    assert evaluate_query_latency([*slow, *fast], bound_s=1.0).status is Status.FAILED


def test_the_slowest_queries_are_listed_first_in_their_own_field() -> None:
    samples = [QuerySample("after", "by_id", n / 10, "found", True) for n in range(300)]
    samples += [QuerySample("after", "search", 0.1, "found", True)]
    evidence = evaluate_query_latency(samples, bound_s=100.0).evidence
    assert len(evidence["samples"]) == 200 and evidence["samples_total"] == 301
    assert [s["s"] for s in evidence["slowest"][:2]] == [29.9, 29.8]


def test_after_the_load_a_failing_round_is_the_last(tmp_path: Path) -> None:
    clock = FakeClock(now=2000.0)

    def timing_out(request: httpx.Request) -> httpx.Response | None:
        raise httpx.ReadTimeout("timed out", request=request)

    ledger = tmp_path / "ledger"
    write_ledger(ledger, range(1, 3))
    recorder = slow_jaeger(clock, by_id_s=10.0, search_s=10.0, fail=timing_out)
    probe = probe_for(recorder, ledger, clock, after_rounds=5)
    probe.measure_after(clock.sleep)
    assert len(recorder.requests) == 2 and clock.slept == []
    assert probe.result(1.0).status is Status.FAILED  # two timeouts of 10 s: over the bound
