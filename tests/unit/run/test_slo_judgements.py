"""Which SLO bounds judge which requests: a fault the service is built to survive (keeps_slo)
is judged with the steady-state bounds, on its own window; the others with the in-fault ones."""

from __future__ import annotations

from assertions.checks.slo import evaluate_slo, ledger_slo
from chaosgate.run.judging import SloJudgement, slo_judgements
from chaosgate.vocabulary import FaultWindow, LedgerEntry, SloBounds

STEADY = SloBounds(max_error_ratio=0.01, max_p95_s=1.0)
IN_FAULT = SloBounds(max_error_ratio=0.6, max_p95_s=5.0)
KILL = FaultWindow(100.0, 120.0, "kill-orders-pod")
CUT = FaultWindow(200.0, 230.0, "remove-orders-endpoints")


def _entries(start: float, end: float, errors_every: int = 0) -> list[LedgerEntry]:
    """One request a second in [start, end); every ``errors_every``-th one a 502."""
    return [
        LedgerEntry(
            trace_id=f"{i:032x}",
            span_id=f"{i:016x}",
            request_id=f"r{i}",
            scenario="Customer",
            method="GET",
            route="/api/menu",
            status=502 if errors_every and i % errors_every == 0 else 200,
            started_at=start + i,
            latency_s=0.05,
        )
        for i in range(int(end - start))
    ]


def _names_and_bounds(
    judgements: list[SloJudgement],
) -> list[tuple[str | None, tuple[str, ...], object, object]]:
    return [
        (j.name, tuple(w.name for w in j.windows), j.expected.outside, j.expected.inside)
        for j in judgements
    ]


def test_without_keeps_slo_every_window_gets_the_in_fault_bounds() -> None:
    assert _names_and_bounds(slo_judgements([KILL, CUT], STEADY, IN_FAULT)) == [
        (None, ("kill-orders-pod", "remove-orders-endpoints"), STEADY, None),
        (None, ("kill-orders-pod", "remove-orders-endpoints"), None, IN_FAULT),
    ]


def test_a_window_that_keeps_the_slo_is_judged_alone_with_the_steady_bounds() -> None:
    judgements = slo_judgements([KILL, CUT], STEADY, IN_FAULT, frozenset({"kill-orders-pod"}))
    assert _names_and_bounds(judgements) == [
        (None, ("kill-orders-pod", "remove-orders-endpoints"), STEADY, None),
        (None, ("remove-orders-endpoints",), None, IN_FAULT),
        ("kill-orders-pod", ("kill-orders-pod",), None, STEADY),
    ]


def test_only_kept_windows_leave_no_in_fault_judgement() -> None:
    judgements = slo_judgements([KILL], STEADY, IN_FAULT, frozenset({"kill-orders-pod"}))
    assert _names_and_bounds(judgements) == [
        (None, ("kill-orders-pod",), STEADY, None),
        ("kill-orders-pod", ("kill-orders-pod",), None, STEADY),
    ]
    # with no fault at all the in-fault side is still judged (and finds nothing: an error)
    assert _names_and_bounds(slo_judgements([], STEADY, IN_FAULT)) == [
        (None, (), STEADY, None),
        (None, (), None, IN_FAULT),
    ]


def test_five_percent_errors_fail_a_kept_window_but_pass_as_an_ordinary_fault() -> None:
    entries = [*_entries(0, 100), *_entries(100, 120, errors_every=20), *_entries(120, 300)]

    def verdicts(keeps: frozenset[str]) -> dict[str, str]:
        results = {}
        for judgement in slo_judgements([KILL], STEADY, IN_FAULT, keeps):
            for check in evaluate_slo(ledger_slo(entries, judgement.windows), judgement.expected):
                results[judgement.name or check.name] = check.status.value
        return results

    assert verdicts(frozenset()) == {
        "slo.ledger.outside_faults": "passed",
        "slo.ledger.inside_faults": "passed",  # 5 % is inside the 60 % in-fault bound
    }
    assert verdicts(frozenset({"kill-orders-pod"})) == {
        "slo.ledger.outside_faults": "passed",
        "kill-orders-pod": "failed",  # but not inside the 1 % steady-state one
    }
