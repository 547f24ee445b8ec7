"""``alerts.quality``: recall from the fired checks, precision over the fault windows."""

from __future__ import annotations

from assertions.checks.alert_quality import QualityExpectation, evaluate_quality
from assertions.result import Status
from chaosgate.vocabulary import ExpectedAlert, FaultWindow
from tests.unit.assertions.alert_support import DOWN, episode, watched

KILL = FaultWindow(1000.0, 1040.0, "kill-users-service")
ERRORS = FaultWindow(1100.0, 1140.0, "gateway-error-ratio")
GATEWAY = ExpectedAlert("GatewayHighErrorRate", {"service": "gateway"})
POOL = ExpectedAlert("DatabasePoolExhausted", {"service": "orders"})


def test_every_alert_expected_and_fired_passes() -> None:
    seen = watched(
        episode(1005.0, 1005.6),
        episode(1105.0, 1105.5, alertname="GatewayHighErrorRate", service="gateway"),
        episode(1050.0, 1050.5, alertname="NodeHighCPU", severity="warning"),  # outside windows
        last=1200.0,
    )
    expectations = [
        QualityExpectation("kill-users-service", DOWN, fired_in_time=True),
        QualityExpectation("gateway-error-ratio", GATEWAY, fired_in_time=True),
    ]
    result = evaluate_quality(seen, expectations, [KILL, ERRORS], min_recall=1.0, min_precision=1.0)
    assert result.passed and result.name == "alerts.quality"
    assert result.observed == {
        "recall": 1.0,
        "precision": 1.0,
        "expected": 2,
        "fired_in_time": 2,
        "episodes_in_windows": 2,
        "named_episodes": 2,
        "unexpected_alerts": [],
        "missed": [],
        "unobserved": [],
    }


def test_low_recall_fails_naming_what_did_not_fire() -> None:
    expectations = [
        QualityExpectation("kill-users-service", DOWN, fired_in_time=True),
        QualityExpectation("gateway-error-ratio", GATEWAY, fired_in_time=False),
        QualityExpectation("gateway-error-ratio", POOL, fired_in_time=True),
    ]
    seen = watched(episode(1005.0, 1005.6), last=1200.0)
    result = evaluate_quality(seen, expectations, [KILL, ERRORS], min_recall=0.9, min_precision=0)
    assert result.status is Status.FAILED
    assert result.observed["recall"] == 0.6667
    assert result.reason == (
        "recall 0.6667 is below 0.9 (did not fire in time: GatewayHighErrorRate{service=gateway})"
    )
    assert evaluate_quality(
        seen, expectations, [KILL, ERRORS], min_recall=0.6, min_precision=0
    ).passed


def test_low_precision_fails_naming_the_unexpected_alerts() -> None:
    seen = watched(
        episode(1005.0, 1005.6),
        episode(1010.0, 1010.5, alertname="IoTServiceDown", service="iot", severity="warning"),
        # expected, but by the other window's fault: unexpected here
        episode(1020.0, 1020.5, alertname="GatewayHighErrorRate", service="gateway"),
        last=1200.0,
    )
    expectations = [
        QualityExpectation("kill-users-service", DOWN, fired_in_time=True),
        QualityExpectation("gateway-error-ratio", GATEWAY, fired_in_time=False),
    ]
    result = evaluate_quality(seen, expectations, [KILL, ERRORS], min_recall=0, min_precision=0.5)
    assert result.status is Status.FAILED
    assert result.observed["precision"] == 0.3333
    assert result.observed["unexpected_alerts"] == ["GatewayHighErrorRate", "IoTServiceDown"]
    assert "precision 0.3333 is below 0.5" in result.reason
    assert len(result.evidence["unexpected"]) == 2


def test_an_expected_inhibition_names_its_episode_but_is_not_recall() -> None:
    seen = watched(
        episode(1005.0, 1005.6),
        episode(1006.0, 1006.5, alertname="DatabasePoolExhausted", service="orders"),
        last=1200.0,
    )
    expectations = [
        QualityExpectation("kill-users-service", DOWN, fired_in_time=True),
        QualityExpectation("kill-users-service", POOL, inhibited=True),
    ]
    result = evaluate_quality(seen, expectations, [KILL], min_recall=1.0, min_precision=1.0)
    assert result.passed
    assert (result.observed["expected"], result.observed["precision"]) == (1, 1.0)


def test_unwatched_windows_are_an_error_and_nothing_to_count_passes() -> None:
    seen = watched(episode(1005.0, 1005.6), last=1100.0)
    expectations = [QualityExpectation("kill-users-service", DOWN, fired_in_time=True)]
    result = evaluate_quality(seen, expectations, [KILL, ERRORS], min_recall=1, min_precision=1)
    assert result.status is Status.ERROR and "gateway-error-ratio" in result.reason
    empty = evaluate_quality(watched(last=1200.0), [], [KILL], min_recall=1, min_precision=1)
    assert empty.passed
    assert (empty.observed["recall"], empty.observed["precision"]) == (None, None)
    assert "nothing to judge" in empty.observed["note"]
