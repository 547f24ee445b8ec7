"""with_query_latency: the run's live probe also times Jaeger's queries during and after the
load, and judges them with the ingest-lag results. Jaeger is faked at the transport, with a
fake clock it moves on by each query's latency."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
import requests

from assertions.checks.warmup import WarmupBackends
from assertions.result import CheckResult, Status
from chaosgate.run.backends import build_backends
from chaosgate.run.live_parts import LiveProbes, with_query_latency
from chaosgate.run.run_plan import RunPlan
from chaosgate.vocabulary import FaultWindow
from tests.support.clocks import FakeClock
from tests.support.waiting import wait_until
from tests.unit.assertions.fake_backends import jaeger_trace
from tests.unit.assertions.support import entry
from tests.unit.run.plans import smoke_plan, target_at

JAEGER, UNUSED = "http://jaeger.test:16686", "http://unused.test:1"


class FakeLagProbe:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def stop(self, timeout_s: float = 10.0) -> None:
        self.calls.append("stop")

    def drain(self) -> None:
        self.calls.append("drain")

    def results(
        self,
        *,
        traces_deadline_s: float,
        logs_deadline_s: float,
        fault_windows: Sequence[FaultWindow],
    ) -> list[CheckResult]:
        return [CheckResult("traces.ingest_lag", Status.PASSED, None, None)]


def _plan(tmp_path: Path) -> RunPlan:
    plan = smoke_plan(target_at(JAEGER, UNUSED, UNUSED, UNUSED, UNUSED, deadline_s=1), tmp_path)
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    (ledger / "ledger-h-1.jsonl").write_text(
        "".join(entry(n, started_at=1000.0 + n).to_json() + "\n" for n in range(1, 4))
    )
    return plan


def _slow_jaeger(clock: FakeClock, seconds: float) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        clock.advance(seconds)
        return httpx.Response(200, json={"data": [jaeger_trace("ab" * 16)], "errors": None})

    return httpx.MockTransport(handler)


def _backends(transport: httpx.MockTransport, plan: RunPlan) -> WarmupBackends:
    http = httpx.Client(transport=transport)
    return build_backends(plan.target, http, http, requests.Session())


def test_the_query_latency_is_judged_with_the_lag_probe_after_the_load(tmp_path: Path) -> None:
    clock = FakeClock(now=2000.0)
    plan = _plan(tmp_path)
    lag = FakeLagProbe()
    start = with_query_latency(
        lambda _plan, _backends: lag, clock=clock, sleep=clock.sleep, timer=clock,
        interval_s=3600.0, after_rounds=2, after_interval_s=0.25,
    )  # fmt: skip
    probe = start(plan, _backends(_slow_jaeger(clock, 0.25), plan))
    assert isinstance(probe, LiveProbes)
    probe.stop()
    probe.drain()
    assert lag.calls == ["stop", "drain"]
    assert clock.slept == [0.25]  # the after-load rounds are after_interval_s apart
    results = probe.results(traces_deadline_s=1, logs_deadline_s=1, fault_windows=[])
    assert [r.name for r in results] == ["traces.ingest_lag", "traces.query_latency"]
    latency = results[1]
    assert latency.passed, latency.reason
    assert latency.expected["p95_at_most_s"] == 1.0  # the target's jaeger.query_latency_bound_s
    assert latency.observed["by_id"]["after"]["p95"] == 0.25
    assert latency.observed["search"]["queries"] == 2
    # queries inside a fault window are left out, as the ingest lag's samples are
    windowed = probe.results(
        traces_deadline_s=1, logs_deadline_s=1, fault_windows=[FaultWindow(1990.0, 2010.0, "x")]
    )[1]
    assert windowed.status is Status.ERROR and windowed.evidence["excluded_in_fault_windows"] == 4


def test_queries_are_timed_while_the_load_runs(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    clock = FakeClock(now=2000.0)
    start = with_query_latency(
        lambda _plan, _backends: FakeLagProbe(), clock=clock, timer=clock, interval_s=0.01
    )
    probe = start(plan, _backends(_slow_jaeger(clock, 0.0), plan))
    assert isinstance(probe, LiveProbes)
    try:
        wait_until(lambda: len(probe.latency.samples) >= 2, timeout_s=5.0, message="queries timed")
    finally:
        probe.stop()
    assert {s.phase for s in probe.latency.samples} == {"during"}


def test_backends_without_jaeger_queries_keep_the_lag_probe_alone(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    backends = _backends(_slow_jaeger(FakeClock(), 0.0), plan)
    bare = WarmupBackends(
        backends.gateway, backends.jaeger, backends.elasticsearch, backends.prometheus,
        backends.alertmanager, backends.sink,
    )  # fmt: skip
    lag = FakeLagProbe()
    assert with_query_latency(lambda _plan, _backends: lag)(plan, bare) is lag
