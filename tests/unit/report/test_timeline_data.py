"""The timeline's series from small ledgers and timelines: buckets, errors, p95, fault spans."""

from __future__ import annotations

from pathlib import Path

import pytest

from assertions.result import CheckResult, Status
from chaosgate.report.run_folder import read_run_folder
from chaosgate.report.timeline_data import (
    ALL_SCENARIOS,
    fault_spans,
    latency_series,
    rate_series,
    timeline_data,
)
from tests.unit.report.run_fixture import (
    EXPERIMENT,
    INJECT,
    START,
    TITLE,
    entry,
    timeline,
    write_run_folder,
)


def test_requests_and_errors_per_second_per_scenario_over_one_range() -> None:
    entries = [
        entry("Customer", START + 0.1),
        entry("Customer", START + 0.9, status=503),
        entry("IoTDevice", START + 0.5, status=0),
        entry("Customer", START + 2.2, status=404),  # a 4xx is no error: the SLO's rule
    ]
    series = {s.scenario: s for s in rate_series(entries, START)}
    assert list(series) == [ALL_SCENARIOS, "Customer", "IoTDevice"]
    every = series[ALL_SCENARIOS]
    assert every.t_s == (0.0, 1.0, 2.0)
    assert every.requests_per_s == (3.0, 0.0, 1.0)
    assert every.error_ratio[0] == pytest.approx(2 / 3)
    assert every.error_ratio[1:] == (None, 0.0)
    # each scenario spans the same seconds, 0 requests where it had none
    assert series["IoTDevice"].t_s == (0.0, 1.0, 2.0)
    assert series["IoTDevice"].requests_per_s == (1.0, 0.0, 0.0)
    assert series["IoTDevice"].error_ratio == (1.0, None, None)
    assert series["Customer"].error_ratio == (0.5, None, 0.0)


def test_wider_buckets_give_requests_per_second_not_per_bucket() -> None:
    entries = [entry("Customer", START + t) for t in (0.5, 1.5, 2.5, 3.5)]
    (every, _customer) = rate_series(entries, START, bucket_s=2.0)
    assert every.t_s == (0.0, 2.0)
    assert every.requests_per_s == (1.0, 1.0)


def test_requests_before_the_origin_fall_in_negative_buckets() -> None:
    (every, _) = rate_series([entry("Customer", START - 0.5), entry("Customer", START)], START)
    assert every.t_s == (-1.0, 0.0)


def test_p95_per_bucket_leaves_unanswered_requests_out() -> None:
    entries = [entry("Customer", START + i * 0.1, latency_s=float(i)) for i in range(1, 21)]
    entries.append(entry("Customer", START + 4.9, status=0, latency_s=99.0))
    entries.append(entry("Customer", START + 6.0, status=0, latency_s=50.0))
    (every, customer) = latency_series(entries, START, bucket_s=5.0)
    assert every.t_s == (0.0, 5.0)
    assert every.p95_s[0] == pytest.approx(19.05)  # ranks 1..20 interpolated, 99 s ignored
    assert every.p95_s[1] is None  # only an unanswered request
    assert customer.p95_s == every.p95_s


def test_no_ledger_gives_no_series_and_a_bad_bucket_is_refused() -> None:
    assert rate_series([], START) == []
    assert latency_series([], START) == []
    with pytest.raises(ValueError, match="bucket_s must be above 0"):
        rate_series([entry("x", START)], START, bucket_s=0)


def _chaos_check() -> CheckResult:
    return CheckResult(f"chaos.{EXPERIMENT}", Status.PASSED, "completed", {"inject_at": INJECT})


def test_a_fault_span_runs_from_inject_to_rollback_and_takes_its_check_name() -> None:
    (span,) = fault_spans(timeline(), [_chaos_check()], START, START + 95)
    assert (span.name, span.title) == (EXPERIMENT, TITLE)
    assert (span.start_s, span.end_s) == (30.0, 60.0)
    assert (span.status, span.injected, span.rolled_back) == ("completed", True, True)


def test_without_fault_window_records_the_spans_come_from_the_events() -> None:
    events = [record for record in timeline() if "fault_window" not in record]
    (span,) = fault_spans(events, [], START, START + 95)
    assert (span.name, span.start_s, span.end_s) == (TITLE, 30.0, 60.0)


def test_a_fault_never_rolled_back_lasts_to_the_end_of_its_experiment_or_the_run() -> None:
    window = {
        "experiment": "x",
        "started_at": START + 10,
        "inject_at": START + 11,
        "rollback_at": None,
        "ended_at": None,
        "status": None,
        "extra": "kept",
    }
    (span,) = fault_spans([{"fault_window": window}], [], START, START + 50)
    assert (span.start_s, span.end_s, span.rolled_back, span.status) == (11.0, 50.0, False, "")
    nothing = {**window, "inject_at": None, "started_at": None}
    assert fault_spans([{"fault_window": nothing}], [], START, START + 50) == []


def test_timeline_data_of_a_full_run_and_what_it_says_it_lacks(tmp_path: Path) -> None:
    data = timeline_data(read_run_folder(write_run_folder(tmp_path)))
    assert data.origin == START and data.end_s == 95.0
    assert [s.scenario for s in data.rates] == [
        ALL_SCENARIOS,
        "Customer",
        "IoTDevice",
        "KitchenStaff",
    ]
    assert max(data.rates[0].requests_per_s) == 6.0
    in_fault = data.rates[1].error_ratio[int(INJECT - START) + 1]
    assert in_fault == pytest.approx(2 / 3)
    assert [span.name for span in data.faults] == [EXPERIMENT]
    assert len(data.alerts) == 2 and len(data.unexpected) == 1
    assert data.notes == (
        "ingest lag: the checks record p50 / p95 / max only, not each sample's time "
        "(drawn as levels across the run)",
    )


def test_timeline_data_of_a_run_interrupted_in_its_warm_up(tmp_path: Path) -> None:
    interrupted = CheckResult("run.interrupted", Status.ERROR, "the run completes", "SIGINT")
    run_dir = write_run_folder(
        tmp_path, verdict="interrupted", results=[interrupted], events=[], ledger=[], duration_s=0.2
    )
    data = timeline_data(read_run_folder(run_dir))
    assert (data.rates, data.faults, data.alerts, data.ingest) == ([], [], [], [])
    assert data.end_s == pytest.approx(0.2, abs=1e-3)
    assert len(data.notes) == 4
    assert data.notes[0].startswith("no request ledger")
