"""logs.flood judged from a flood's observation, and found in an experiment's journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assertions.checks.log_flood import evaluate_log_flood, store_intake_per_s
from assertions.result import Status
from chaosgate.run.chaos_phase import ExperimentRun
from chaosgate.run.flood_judging import log_flood_checks

CLAIM = 10_000.0


def observation(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "lines_per_s": 10_000,
        "rates": {"gateway": 2500, "orders": 2500, "users": 2500, "iot": 2500},
        "duration_s": 60.0,
        "written_s": 60.0,
        "emitted": 600_000,
        "stored_by_deadline": 600_000,
        "deadline_s": 30.0,
        "all_stored_after_s": 2.5,
        "series": [[float(t), max(0, (t - 2) * 10_000)] for t in range(1, 61)],
        "index": "restaurant-logs-*",
    }
    return {**base, **changes}


def test_every_line_at_the_claimed_rate_passes_with_its_figures() -> None:
    result = evaluate_log_flood(observation(), claimed_lines_per_s=CLAIM)
    assert result.status is Status.PASSED, result.reason
    assert result.observed["searchable_share"] == 1.0
    assert result.observed["lines_per_s_stored"] == 10_000.0
    assert result.observed["store_intake_per_s"] == 10_000.0
    assert result.latency_s == 2.5 and result.attempts == 60


def test_a_tenth_of_a_percent_lost_fails() -> None:
    result = evaluate_log_flood(
        observation(stored_by_deadline=599_000, all_stored_after_s=None),
        claimed_lines_per_s=CLAIM,
    )
    assert result.status is Status.FAILED
    assert "1,000 of 600,000 lines (0.17%) not searchable 30 s after the flood" in result.reason


def test_exactly_the_bound_passes() -> None:
    assert evaluate_log_flood(
        observation(stored_by_deadline=599_400), claimed_lines_per_s=CLAIM
    ).passed


def test_services_that_could_not_write_the_rate_fail_saying_the_claim_was_not_tested() -> None:
    result = evaluate_log_flood(
        observation(emitted=300_000, stored_by_deadline=300_000), claimed_lines_per_s=CLAIM
    )
    assert result.status is Status.FAILED
    assert "wrote 5,000 lines/s, below the claimed 10,000: the claim was not tested" in (
        result.reason
    )


def test_a_flood_one_tick_short_of_its_rate_still_tests_it() -> None:
    # the writer's last 50 ms tick never came: 500 lines short of 600,000
    assert evaluate_log_flood(
        observation(emitted=599_500, stored_by_deadline=599_500), claimed_lines_per_s=CLAIM
    ).passed


def test_a_store_that_falls_behind_the_rate_fails_by_what_it_had_not_indexed() -> None:
    result = evaluate_log_flood(observation(stored_by_deadline=540_000), claimed_lines_per_s=CLAIM)
    assert result.status is Status.FAILED
    assert "60,000 of 600,000 lines (10.00%) not searchable" in result.reason
    assert result.observed["lines_per_s_stored"] == 9000.0


@pytest.mark.parametrize("missing", ["emitted", "written_s", "deadline_s"])
def test_an_observation_without_its_numbers_is_an_error(missing: str) -> None:
    broken = observation()
    del broken[missing]
    result = evaluate_log_flood(broken, claimed_lines_per_s=CLAIM)
    assert result.status is Status.ERROR and missing in result.reason


def test_the_intake_is_the_slope_while_lines_arrive() -> None:
    assert store_intake_per_s([[1, 0], [2, 500], [4, 2500], [9, 9000]], 5.0) == 1000.0
    assert store_intake_per_s([[1, 0], [2, 10]], 5.0) is None  # one poll with lines


def _run(tmp_path: Path, journal: dict[str, Any] | None, stem: str = "log-flood") -> ExperimentRun:
    path = tmp_path / f"{stem}.journal.json"
    if journal is not None:
        path.write_text(json.dumps(journal))
    return ExperimentRun(
        path=tmp_path / f"{stem}.json",
        title="t",
        expected=(),
        resolve_deadline_s=60,
        journal_path=path,
        inject_at=1.0,
        rollback_at=2.0,
        status="completed",
    )


def _activity(func: str, status: str, output: object, **arguments: object) -> dict[str, Any]:
    provider = {"type": "python", "module": "m", "func": func, "arguments": arguments}
    return {"activity": {"name": func, "provider": provider}, "status": status, "output": output}


def test_each_flood_of_a_journal_is_one_check_judged_against_the_rate_it_asked(
    tmp_path: Path,
) -> None:
    journal = {
        "run": [
            _activity("set_faults", "succeeded", {}),
            _activity("flood_logs", "succeeded", observation(), lines_per_s=20_000),
        ]
    }
    [check] = log_flood_checks([_run(tmp_path, journal), _run(tmp_path, None, "other")])
    assert check.name == "logs.flood[log-flood]"
    assert check.status is Status.FAILED  # 10,000 lines/s written: below the 20,000 asked
    assert check.expected["lines_per_s_at_least"] == 20_000


def test_a_flood_that_failed_is_an_error_and_a_broken_journal_too(tmp_path: Path) -> None:
    failed = {"run": [_activity("flood_logs", "failed", None, lines_per_s=10_000)]}
    [check] = log_flood_checks([_run(tmp_path, failed)])
    assert check.status is Status.ERROR and "did not complete" in check.reason
    (tmp_path / "bad.journal.json").write_text("{not json")
    [broken] = log_flood_checks([_run(tmp_path, None, "bad")])
    assert broken.status is Status.ERROR and "unreadable" in broken.reason
