"""CheckResult.from_dict reads back what to_dict wrote (summary.json's checks)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from assertions.result import CheckResult, Status


def _result() -> CheckResult:
    return CheckResult(
        name="alert.UsersServiceDown{service=users}.fired",
        status=Status.FAILED,
        expected={"within_s": 30.0, "labels": {"alertname": "UsersServiceDown"}},
        observed={"fired": False},
        reason="UsersServiceDown did not fire within 30 s of inject",
        latency_s=31.5,
        attempts=61,
        evidence={"inject_at": 1796188061.17, "other_episodes": []},
    )


def test_a_result_survives_a_round_trip_through_json() -> None:
    original = _result()
    again = CheckResult.from_dict(json.loads(json.dumps(original.to_dict())))
    assert again == original
    assert again.status is Status.FAILED


def test_missing_optional_fields_take_their_defaults() -> None:
    result = CheckResult.from_dict({"name": "warmup.gateway", "status": "passed"})
    assert result == CheckResult("warmup.gateway", Status.PASSED, None, None)


def test_a_whole_float_is_taken_for_attempts() -> None:
    data = {**_result().to_dict(), "attempts": 4.0, "latency_s": 2}
    result = CheckResult.from_dict(data)
    assert result.attempts == 4 and isinstance(result.attempts, int)
    assert result.latency_s == 2.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": ""}, "non-empty string 'name'"),
        ({"name": 3}, "non-empty string 'name'"),
        ({"status": "skipped"}, "'status' is 'skipped', not one of passed, failed, error"),
        ({"status": ["passed"]}, "'status' is ['passed'], not one of"),
        ({"reason": None}, "'reason' must be a string"),
        ({"latency_s": "1.2"}, "'latency_s' must be a number or null"),
        ({"latency_s": True}, "'latency_s' must be a number or null"),
        ({"attempts": 1.5}, "'attempts' must be a whole number"),
        ({"evidence": []}, "'evidence' must be an object"),
    ],
)
def test_a_field_of_the_wrong_type_is_named(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        CheckResult.from_dict({**_result().to_dict(), **change})


def test_a_check_that_is_no_object_is_refused() -> None:
    with pytest.raises(ValueError, match="must be an object, not list"):
        CheckResult.from_dict([])  # type: ignore[arg-type]
