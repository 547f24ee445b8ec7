"""The pure parts shared by the trace and log checks: expectations, sampling, judging."""

from __future__ import annotations

import pytest

from assertions.checks.completeness import (
    CompletenessExpected,
    CompletenessObservation,
    Expectation,
    evaluate_completeness,
    expectations_from_ledger,
    expected_services,
    sample_entries,
)
from assertions.result import Status
from tests.unit.assertions.support import entry


@pytest.mark.parametrize(
    ("route", "status", "services"),
    [
        ("/api/menu", 200, {"gateway", "orders"}),
        ("/api/orders", 201, {"gateway", "orders"}),
        ("/api/orders/{id}/payment", 404, {"gateway", "orders"}),
        ("/api/users/{id}", 200, {"gateway", "users"}),
        ("/api/iot/devices/{id}/telemetry", 202, {"gateway", "iot"}),
        ("/api/usersettings", 200, {"gateway"}),  # a prefix match is per path segment
        ("/api/unknown", 404, {"gateway"}),
        ("/api/orders", 502, {"gateway"}),  # the gateway's own answer: upstream unreachable
        ("/api/users/{id}", 500, {"gateway"}),
        ("/api/iot/devices", 0, {"gateway"}),  # no response at all
    ],
)
def test_expected_services(route: str, status: int, services: set[str]) -> None:
    assert expected_services(entry(1, route=route, status=status)) == services


def test_expectations_count_only_answered_requests_unless_asked() -> None:
    entries = [entry(1), entry(2, status=0), entry(1, started_at=5.0)]
    items = expectations_from_ledger(entries, key=lambda e: e.trace_id)
    assert [(item.key[-1], item.counted) for item in items] == [("1", True), ("2", False)]
    assert items[0].request_end_unix == 1000.1
    counted = expectations_from_ledger(entries, key=lambda e: e.trace_id, count_unanswered=True)
    assert all(item.counted for item in counted)
    bare = expectations_from_ledger(entries, key=lambda e: e.request_id, with_services=False)
    assert [item.services for item in bare] == [frozenset(), frozenset()]


def test_sampling_is_seeded_and_keeps_ledger_order() -> None:
    entries = [entry(n, started_at=float(n)) for n in range(100)]
    first, info = sample_entries(entries, 10, seed=7)
    again, _ = sample_entries(entries, 10, seed=7)
    other, _ = sample_entries(entries, 10, seed=8)
    assert first == again != other
    assert len(first) == 10
    assert [e.started_at for e in first] == sorted(e.started_at for e in first)
    assert info == {"population": 100, "sample_size": 10, "seed": 7}
    everything, info = sample_entries(entries, None, seed=7)
    assert everything == entries and info == {"population": 100, "sample_size": 100}
    assert sample_entries(entries, 500, seed=1)[0] == entries
    with pytest.raises(ValueError, match="sample_size"):
        sample_entries(entries, 0, seed=1)


def test_threshold_is_a_ratio() -> None:
    for bad in (0.0, 1.5, -1.0):
        with pytest.raises(ValueError, match="threshold"):
            CompletenessExpected(threshold=bad)


def expectation(key: str, *, counted: bool = True, end: float = 100.0) -> Expectation:
    return Expectation(key, end, frozenset({"gateway", "orders"}), counted)


def observation(
    expectations: list[Expectation],
    found_at: dict[str, float],
    seen: dict[str, frozenset[str]] | None = None,
    *,
    errors: tuple[str, ...] = (),
    last_round_failed: bool = False,
) -> CompletenessObservation:
    all_seen = {key: frozenset({"gateway", "orders"}) for key in found_at} | (seen or {})
    return CompletenessObservation(
        expectations=tuple(expectations),
        found_at=found_at,
        seen_services=all_seen,
        polling_started_at=100.0,
        polling_ended_at=103.0,
        attempts=3,
        errors=errors,
        last_round_failed=last_round_failed,
    )


STRICT = CompletenessExpected(threshold=1.0, deadline_s=30.0)


def test_all_found_passes_with_lag_figures() -> None:
    items = [expectation(str(n), end=100.0) for n in range(1, 5)]
    found = {"1": 101.0, "2": 102.0, "3": 103.0, "4": 104.0}
    result = evaluate_completeness("x.completeness", observation(items, found), STRICT)
    assert result.status is Status.PASSED and result.reason == ""
    assert result.observed["ratio"] == 1.0
    assert result.evidence["lag_s"] == {"p50": 2.5, "p95": 3.85, "max": 4.0}
    assert result.latency_s == 3.85
    assert result.attempts == 3
    assert result.to_dict()["name"] == "x.completeness"


def test_one_missing_fails_a_strict_gate_and_names_it() -> None:
    items = [expectation("a"), expectation("b")]
    result = evaluate_completeness("x", observation(items, {"a": 101.0}), STRICT)
    assert result.status is Status.FAILED
    assert result.evidence["missing_ids"] == ["b"]
    assert "found 1 of 2" in result.reason and "1 missing" in result.reason


def test_a_lower_threshold_tolerates_losses() -> None:
    items = [expectation(str(n)) for n in range(20)]
    found = {str(n): 101.0 for n in range(19)}
    assert evaluate_completeness("x", observation(items, found), CompletenessExpected(0.95)).passed
    assert not evaluate_completeness(
        "x", observation(items, found), CompletenessExpected(0.96)
    ).passed


def test_missing_ids_are_listed_up_to_twenty() -> None:
    items = [expectation(str(n)) for n in range(50)]
    result = evaluate_completeness("x", observation(items, {}), STRICT)
    assert result.observed["missing"] == 50
    assert len(result.evidence["missing_ids"]) == 20


def test_incomplete_traces_are_not_found_and_reported_apart() -> None:
    items = [expectation("a"), expectation("b")]
    seen = {"b": frozenset({"gateway"})}
    result = evaluate_completeness("x", observation(items, {"a": 101.0}, seen), STRICT)
    assert result.status is Status.FAILED
    assert result.observed["incomplete"] == 1 and result.observed["missing"] == 0
    assert result.evidence["incomplete"] == {
        "b": {"seen": ["gateway"], "expected": ["gateway", "orders"]}
    }


def test_unanswered_requests_do_not_count_but_are_reported() -> None:
    items = [expectation("a"), expectation("b", counted=False), expectation("c", counted=False)]
    result = evaluate_completeness("x", observation(items, {"a": 101.0, "c": 101.0}), STRICT)
    assert result.passed
    assert result.observed["unanswered"] == 2 and result.observed["unanswered_found"] == 1


def test_an_empty_ledger_is_an_error_not_a_pass() -> None:
    result = evaluate_completeness("x", observation([], {}), STRICT)
    assert result.status is Status.ERROR
    assert "no requests" in result.reason


def test_only_unanswered_requests_is_an_error() -> None:
    result = evaluate_completeness("x", observation([expectation("a", counted=False)], {}), STRICT)
    assert result.status is Status.ERROR
    assert "none of the 1 requests got a response" in result.reason


def test_a_backend_failing_at_the_end_is_an_error_not_a_failure() -> None:
    items = [expectation("a"), expectation("b")]
    obs = observation(
        items,
        {"a": 101.0},
        errors=("jaeger at http://j/api/traces: HTTP 500",),
        last_round_failed=True,
    )
    result = evaluate_completeness("x", obs, STRICT)
    assert result.status is Status.ERROR
    assert "jaeger at http://j/api/traces: HTTP 500" in result.reason
    assert result.evidence["errors"] == ["jaeger at http://j/api/traces: HTTP 500"]


def test_earlier_backend_errors_do_not_spoil_a_pass() -> None:
    obs = observation([expectation("a")], {"a": 101.0}, errors=("boom",), last_round_failed=False)
    result = evaluate_completeness("x", obs, STRICT)
    assert result.passed and result.evidence["errors"] == ["boom"]
