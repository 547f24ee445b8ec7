"""SLO figures from the ledger (pure) and from Prometheus (fake transport), and their judging."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from assertions.backends.prometheus import PrometheusBackend
from assertions.checks._stats import histogram_quantile, percentile, summary
from assertions.checks.slo import (
    SloExpected,
    SloObservation,
    SloStats,
    check_prometheus_slo,
    evaluate_slo,
    ledger_slo,
    prometheus_slo,
    split_segments,
)
from assertions.result import Status
from chaosgate.vocabulary import FaultWindow, SloBounds
from tests.support.clocks import FakeClock
from tests.unit.assertions.support import RequestsTransport, entry

URL = "http://prometheus.test:9090"
FAULT = FaultWindow(1010.0, 1020.0, "kill users")


# --- statistics ---


def test_percentile_and_summary() -> None:
    assert percentile([], 0.95) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert summary([1.0, 2.0, 3.0, 4.0, 5.0]) == {"p50": 3.0, "p95": 4.8, "max": 5.0}
    assert summary([]) == {"p50": None, "p95": None, "max": None}


def test_histogram_quantile_like_prometheus() -> None:
    buckets = {0.1: 50.0, 0.25: 90.0, 0.5: 100.0, math.inf: 100.0}
    assert histogram_quantile(0.5, buckets) == 0.1
    assert histogram_quantile(0.95, buckets) == pytest.approx(0.375)
    assert histogram_quantile(0.95, {0.1: 0.0, 1.0: 0.0, math.inf: 10.0}) == 1.0  # +Inf bucket
    assert histogram_quantile(0.95, {0.1: 0.0, math.inf: 0.0}) is None
    assert histogram_quantile(0.95, {0.1: 5.0}) is None  # no +Inf bucket
    assert histogram_quantile(0.95, {}) is None


# --- ledger ---


def test_ledger_splits_by_fault_window() -> None:
    entries = [
        entry(1, started_at=1000.0, latency_s=0.05),
        entry(2, started_at=1005.0, latency_s=0.07, status=404),
        entry(3, started_at=1012.0, latency_s=2.0, status=502),
        entry(4, started_at=1015.0, latency_s=5.0, status=0),
        entry(5, started_at=1019.9, latency_s=0.1),
        entry(6, started_at=1020.5, latency_s=0.1),
    ]
    observation = ledger_slo(entries, [FAULT])
    assert (observation.inside.requests, observation.inside.errors) == (3, 2)
    assert observation.inside.p95_s == pytest.approx(0.1 + 0.95 * 1.9)  # answered: 2.0 and 0.1
    assert observation.outside.requests == 3 and observation.outside.errors == 0
    assert observation.inside.error_ratio == pytest.approx(2 / 3)


def test_a_request_sent_at_the_inject_or_the_rollback_moment_is_inside() -> None:
    entries = [
        entry(1, started_at=1009.999, latency_s=0.1),
        entry(2, started_at=1010.0, latency_s=0.1),
        entry(3, started_at=1020.0, latency_s=0.1),
        entry(4, started_at=1020.001, latency_s=0.1),
    ]
    observation = ledger_slo(entries, [FAULT])
    assert (observation.inside.requests, observation.outside.requests) == (2, 2)


def test_bounds_pass_fail_and_are_optional() -> None:
    observation = SloObservation(
        "ledger", inside=SloStats(10, 5, 3.0), outside=SloStats(100, 1, 0.2)
    )
    expected = SloExpected(
        outside=SloBounds(max_error_ratio=0.05, max_p95_s=1.0), inside=SloBounds(0.2)
    )
    outside, inside = evaluate_slo(observation, expected)
    assert outside.name == "slo.ledger.outside_faults" and outside.passed
    assert outside.latency_s == 0.2
    assert inside.name == "slo.ledger.inside_faults" and inside.status is Status.FAILED
    assert "error ratio 50.00% above 20.00%" in inside.reason
    slow = evaluate_slo(observation, SloExpected(outside=SloBounds(max_p95_s=0.1)))
    assert [r.status for r in slow] == [Status.FAILED]
    assert "p95 latency 0.200 s above 0.1 s" in slow[0].reason
    assert evaluate_slo(observation, SloExpected()) == []


def test_no_requests_is_an_error_not_a_pass() -> None:
    (result,) = evaluate_slo(ledger_slo([], [FAULT]), SloExpected(outside=SloBounds(0.1, 1.0)))
    assert result.status is Status.ERROR and "no requests outside" in result.reason
    only_failures = ledger_slo([entry(1, status=0)], [])
    (result,) = evaluate_slo(only_failures, SloExpected(outside=SloBounds(1.0, 1.0)))
    assert result.status is Status.ERROR and "no latency" in result.reason


# --- prometheus ---


def test_segments() -> None:
    assert split_segments(1000.0, 1030.0, [FAULT]) == [
        (1000.0, 1010.0, "outside"),
        (1010.0, 1020.0, "inside"),
        (1020.0, 1030.0, "outside"),
    ]
    assert split_segments(1015.0, 1030.0, [FAULT]) == [
        (1015.0, 1020.0, "inside"),
        (1020.0, 1030.0, "outside"),
    ]
    assert split_segments(1000.0, 1005.0, []) == [(1000.0, 1005.0, "outside")]


def counters(at: float) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Gateway counters at each edge: 100 requests/10 s outside, 10 errors inside, a restart."""
    table: dict[float, dict[str, list[tuple[dict[str, str], float]]]] = {
        1000.0: {
            "requests": [({"route": "/api/menu", "status": "200"}, 1000.0)],
            "buckets": [({"le": "0.1"}, 900.0), ({"le": "1.0"}, 1000.0), ({"le": "+Inf"}, 1000.0)],
        },
        1010.0: {
            "requests": [({"route": "/api/menu", "status": "200"}, 1100.0)],
            "buckets": [({"le": "0.1"}, 1000.0), ({"le": "1.0"}, 1100.0), ({"le": "+Inf"}, 1100.0)],
        },
        1020.0: {
            "requests": [
                ({"route": "/api/menu", "status": "200"}, 1110.0),
                ({"route": "/api/menu", "status": "502"}, 10.0),  # a new series: counted whole
            ],
            "buckets": [({"le": "0.1"}, 1000.0), ({"le": "1.0"}, 1100.0), ({"le": "+Inf"}, 1120.0)],
        },
        1030.0: {
            "requests": [  # the gateway restarted: counters dropped, counted from zero
                ({"route": "/api/menu", "status": "200"}, 50.0),
                ({"route": "/api/menu", "status": "502"}, 10.0),
            ],
            "buckets": [({"le": "0.1"}, 50.0), ({"le": "1.0"}, 50.0), ({"le": "+Inf"}, 50.0)],
        },
    }
    return table[at]


def prometheus_answer(request: requests.PreparedRequest) -> tuple[int, Any]:
    query = parse_qs(urlsplit(request.url or "").query)
    at = float(query["time"][0])
    kind = "buckets" if "bucket" in query["query"][0] else "requests"
    assert 'service="gateway"' in query["query"][0]
    result: list[dict[str, Any]] = [
        {"metric": {"service": "gateway"} | labels, "value": [at, str(value)]}
        for labels, value in counters(at)[kind]
    ]
    return 200, {"status": "success", "data": {"resultType": "vector", "result": result}}


def backend(handler: Any) -> tuple[PrometheusBackend, RequestsTransport]:
    session = requests.Session()
    prometheus = PrometheusBackend(session, URL)
    transport = RequestsTransport(handler)
    session.mount(URL, transport)
    return prometheus, transport


def test_prometheus_counter_growth_per_side() -> None:
    prometheus, transport = backend(prometheus_answer)
    observation = prometheus_slo(prometheus, start=1000.0, end=1030.0, windows=[FAULT])
    assert observation.outside.requests == 150.0  # 100 before the fault, 50 after the restart
    assert observation.outside.errors == 0.0
    assert observation.inside.requests == 20.0 and observation.inside.errors == 10.0
    assert observation.outside.p95_s == pytest.approx(
        0.1 + 0.9 * (142.5 - 150) / 150 + 0.9 * 0, abs=1
    )
    assert observation.inside.p95_s == 1.0  # in the +Inf bucket: the highest finite bound
    assert len(transport.requests) == observation.attempts == 8  # 2 per edge, 4 edges


def test_check_waits_for_scrapes_then_judges() -> None:
    prometheus, _ = backend(prometheus_answer)
    clock = FakeClock(now=1030.0)
    expected = SloExpected(outside=SloBounds(0.01, 1.0), inside=SloBounds(max_error_ratio=0.1))
    outside, inside = check_prometheus_slo(
        [FAULT],
        expected,
        backend=prometheus,
        start=1000.0,
        end=1030.0,
        deadline_s=20,
        clock=clock,
        sleep=clock.sleep,
    )
    assert clock.slept == [2.0]
    assert outside.name == "slo.prometheus.outside_faults" and outside.passed
    assert inside.status is Status.FAILED


def test_an_unreachable_prometheus_is_an_error_after_retries() -> None:
    def down(request: requests.PreparedRequest) -> tuple[int, Any]:
        raise requests.ConnectionError("refused")

    prometheus, transport = backend(down)
    clock = FakeClock(now=2000.0)
    expected = SloExpected(outside=SloBounds(0.01, 1.0), inside=SloBounds(0.5))
    results = check_prometheus_slo(
        [FAULT],
        expected,
        backend=prometheus,
        start=1000.0,
        end=1030.0,
        deadline_s=5,
        clock=clock,
        sleep=clock.sleep,
    )
    assert [r.status for r in results] == [Status.ERROR, Status.ERROR]
    assert f"prometheus at {URL}/api/v1/query" in results[0].reason
    assert len(transport.requests) == 6 and results[0].attempts == 6
