"""``alerts.noise``: unexpected critical alerts in the run's window."""

from __future__ import annotations

from assertions.checks.alert_noise import evaluate_noise
from assertions.checks.alert_watcher import AlertObservations
from assertions.result import Status
from tests.unit.assertions.alert_support import DOWN, episode, watched

RUN = (990.0, 1100.0)


def test_no_unexpected_critical_alert_passes() -> None:
    seen = watched(
        episode(1005.0, 1005.6),  # expected
        episode(1005.0, 1006.0, alertname="NodeHighCPU", severity="warning"),  # not critical
        episode(800.0, 850.0, resolved_at=900.0, alertname="IoTServiceDown"),  # before the run
    )
    result = evaluate_noise(seen, [DOWN], RUN)
    assert result.passed and result.name == "alerts.noise"


def test_an_unexpected_critical_alert_fails_and_is_listed() -> None:
    seen = watched(episode(1005.0, 1005.6, alertname="IoTServiceDown"))
    result = evaluate_noise(seen, [DOWN], RUN)
    assert result.status is Status.FAILED
    assert "IoTServiceDown" in result.reason
    assert result.evidence["alerts"][0]["labels"]["alertname"] == "IoTServiceDown"


def test_noise_needs_the_window_watched() -> None:
    assert evaluate_noise(watched(first=1050.0), [DOWN], RUN).status is Status.ERROR
    assert evaluate_noise(AlertObservations(), [DOWN], RUN).status is Status.ERROR
    assert evaluate_noise(watched(first=993.0, last=1097.0), [DOWN], RUN).passed  # within slack
