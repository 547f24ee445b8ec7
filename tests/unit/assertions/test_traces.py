"""check_traces against a fake Jaeger behind httpx.MockTransport, with a fake clock."""

from __future__ import annotations

import math

import httpx

from assertions.backends.jaeger import DEFAULT_BATCH_SIZE, JaegerBackend
from assertions.checks.completeness import CompletenessExpected, CompletenessObservation
from assertions.checks.traces import check_traces, evaluate_traces, trace_expectations
from assertions.result import Status
from tests.support.clocks import FakeClock
from tests.unit.assertions.fake_backends import FakeJaeger
from tests.unit.assertions.support import Recorder, entry, failing, trace_id

URL = "http://jaeger.test:16686"
FULL = ["gateway", "orders"]


def jaeger(recorder: Recorder) -> JaegerBackend:
    return JaegerBackend(recorder.client(), URL)


def asked(recorder: Recorder) -> list[list[str]]:
    return [request.url.params.get_list("traceID") for request in recorder.requests]


def test_all_traces_present_pass_in_one_request() -> None:
    entries = [entry(n, started_at=995.0) for n in range(1, 6)]
    recorder = Recorder(FakeJaeger({e.trace_id: FULL for e in entries}))
    clock = FakeClock(now=1000.0)
    result = check_traces(
        entries, backend=jaeger(recorder), deadline_s=30, clock=clock, sleep=clock.sleep
    )
    assert result.status is Status.PASSED
    assert result.name == "traces.completeness"
    assert result.attempts == 1 and clock.slept == []
    assert result.evidence["lag_s"]["max"] == 4.9  # 1000.0 - (995.0 + 0.1)


def test_polls_only_the_ids_not_yet_found_until_they_arrive() -> None:
    entries = [entry(n) for n in range(1, 4)]
    fake = FakeJaeger({entries[0].trace_id: FULL})
    clock = FakeClock(now=1000.0)

    def arriving(request: httpx.Request) -> httpx.Response:
        if clock.now >= 1002.0:  # the other traces are written two seconds later
            fake.traces.update({e.trace_id: FULL for e in entries})
        return fake(request)

    recorder = Recorder(arriving)
    result = check_traces(
        entries,
        backend=jaeger(recorder),
        deadline_s=30,
        poll_interval_s=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.passed
    assert asked(recorder) == [
        [e.trace_id for e in entries],
        [entries[1].trace_id, entries[2].trace_id],
        [entries[1].trace_id, entries[2].trace_id],
    ]
    assert result.attempts == 3 and clock.slept == [1.0, 1.0]
    assert result.evidence["lag_s"]["max"] == 1.9


def test_a_trace_that_never_arrives_fails_at_the_deadline_and_is_named() -> None:
    entries = [entry(1), entry(2)]
    recorder = Recorder(FakeJaeger({entries[0].trace_id: FULL}))
    clock = FakeClock(now=1000.0)
    result = check_traces(
        entries,
        backend=jaeger(recorder),
        deadline_s=5,
        poll_interval_s=2.0,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.status is Status.FAILED
    assert result.evidence["missing_ids"] == [trace_id(2)]
    assert clock.now == 1005.0 and clock.slept == [2.0, 2.0, 1.0]
    assert result.attempts == 4


def test_a_trace_without_its_downstream_service_is_incomplete() -> None:
    entries = [entry(1, route="/api/users/{id}")]
    recorder = Recorder(FakeJaeger({entries[0].trace_id: ["gateway"]}))
    clock = FakeClock()
    result = check_traces(
        entries, backend=jaeger(recorder), deadline_s=2, clock=clock, sleep=clock.sleep
    )
    assert result.status is Status.FAILED
    assert result.evidence["incomplete"] == {
        trace_id(1): {"seen": ["gateway"], "expected": ["gateway", "users"]}
    }


def test_gateway_errors_and_unanswered_requests_need_only_the_gateway() -> None:
    entries = [entry(1, status=502), entry(2, status=0), entry(3)]
    recorder = Recorder(FakeJaeger({trace_id(1): ["gateway"], trace_id(3): FULL}))
    clock = FakeClock()
    result = check_traces(
        entries, backend=jaeger(recorder), deadline_s=2, clock=clock, sleep=clock.sleep
    )
    assert result.passed  # the unanswered request (never reached the gateway) does not count
    assert result.observed["unanswered"] == 1 and result.observed["unanswered_found"] == 0
    assert clock.slept == [] and result.attempts == 1  # and is not waited for
    strict = check_traces(
        entries,
        backend=jaeger(recorder),
        deadline_s=2,
        count_unanswered=True,
        clock=clock,
        sleep=clock.sleep,
    )
    assert strict.status is Status.FAILED and strict.evidence["missing_ids"] == [trace_id(2)]


def test_unanswered_requests_are_looked_for_while_counted_ones_are_awaited() -> None:
    entries = [entry(1, status=0), entry(2), entry(3, status=0)]
    fake = FakeJaeger({trace_id(3): ["gateway"]})
    clock = FakeClock(now=1000.0)

    def arriving(request: httpx.Request) -> httpx.Response:
        if clock.now >= 1003.0:  # the counted trace and one unanswered trace arrive late
            fake.traces.update({trace_id(1): ["gateway"], trace_id(2): FULL})
        return fake(request)

    recorder = Recorder(arriving)
    result = check_traces(
        entries,
        backend=jaeger(recorder),
        deadline_s=30,
        poll_interval_s=1.0,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.passed
    assert result.observed["unanswered_found"] == 2
    assert clock.slept == [1.0, 1.0, 1.0]  # polling ended with the counted trace, not at 30 s
    assert asked(recorder)[-1] == [trace_id(1), trace_id(2)]


def test_ten_thousand_ids_are_asked_in_batches() -> None:
    entries = [entry(n) for n in range(1, 10_001)]
    recorder = Recorder(FakeJaeger({e.trace_id: FULL for e in entries}))
    clock = FakeClock()
    result = check_traces(
        entries, backend=jaeger(recorder), deadline_s=30, clock=clock, sleep=clock.sleep
    )
    assert result.passed and result.observed["found"] == 10_000
    assert len(recorder.requests) == math.ceil(10_000 / DEFAULT_BATCH_SIZE) == result.attempts


def test_a_sample_asks_only_for_its_ids() -> None:
    entries = [entry(n) for n in range(1, 1001)]
    recorder = Recorder(FakeJaeger({e.trace_id: FULL for e in entries}))
    clock = FakeClock()
    result = check_traces(
        entries,
        backend=jaeger(recorder),
        deadline_s=30,
        sample_size=50,
        seed=3,
        clock=clock,
        sleep=clock.sleep,
    )
    assert result.passed and result.observed["looked_for"] == 50
    assert sum(len(ids) for ids in asked(recorder)) == 50
    assert result.evidence["sample"] == {"population": 1000, "sample_size": 50, "seed": 3}


def test_an_unreachable_jaeger_is_an_error_never_a_crash_or_pass() -> None:
    for kind in ("connect", "timeout", "500", "not-json"):
        clock = FakeClock()
        recorder = Recorder(failing(kind))
        result = check_traces(
            [entry(1)], backend=jaeger(recorder), deadline_s=3, clock=clock, sleep=clock.sleep
        )
        assert result.status is Status.ERROR, kind
        assert f"jaeger at {URL}/api/traces" in result.reason
        assert len(recorder.requests) > 1  # it kept trying until the deadline


def test_a_transient_failure_is_retried_and_recorded() -> None:
    fake = FakeJaeger({trace_id(1): FULL})
    calls: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(503, text="busy") if len(calls) == 1 else fake(request)

    clock = FakeClock()
    result = check_traces(
        [entry(1)], backend=jaeger(Recorder(flaky)), deadline_s=10, clock=clock, sleep=clock.sleep
    )
    assert result.passed
    assert "HTTP 503" in result.evidence["errors"][0]


def test_an_empty_ledger_is_an_error() -> None:
    recorder = Recorder(FakeJaeger())
    clock = FakeClock()
    result = check_traces(
        [], backend=jaeger(recorder), deadline_s=5, clock=clock, sleep=clock.sleep
    )
    assert result.status is Status.ERROR and recorder.requests == []


def test_evaluate_traces_is_pure() -> None:
    expectations = trace_expectations([entry(1)])
    observation = CompletenessObservation(expectations, {}, {}, 0.0, 1.0, 1)
    result = evaluate_traces(observation, CompletenessExpected())
    assert result.name == "traces.completeness" and result.status is Status.FAILED


def test_polling_tells_the_counted_traces_found_after_every_batch() -> None:
    entries = [entry(n) for n in range(1, 6)] + [entry(6, status=0)]  # the last does not count
    fake = FakeJaeger({e.trace_id: FULL for e in entries[:2]})
    clock = FakeClock(now=1000.0)
    calls = 0

    def arriving(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 2:
            return httpx.Response(500, text="overloaded")
        if clock.now >= 1001.0:
            fake.traces.update({e.trace_id: FULL for e in entries})
        return fake(request)

    told: list[tuple[int, int]] = []
    result = check_traces(
        entries,
        backend=jaeger(Recorder(arriving)),
        deadline_s=30,
        batch_size=2,
        poll_interval_s=1.0,
        clock=clock,
        sleep=clock.sleep,
        on_progress=lambda found, wanted: told.append((found, wanted)),
    )
    assert result.passed, result.reason
    # before the first batch; round one: found 2, a failed batch, nothing; round two: 2 + 1
    # (the unanswered request's trace arrives too but is not counted)
    assert told == [(0, 5), (2, 5), (2, 5), (2, 5), (4, 5), (5, 5)]
