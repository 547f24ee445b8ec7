"""``alerts.noise``: unexpected critical alerts in the run's window."""

from __future__ import annotations

import dataclasses

from assertions.backends.sink import Notification
from assertions.checks.alert_noise import evaluate_noise
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import Status
from tests.unit.assertions.alert_support import DOWN, episode, note, watched

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


def inhibited(alertname: str, *by: str) -> AlertEpisode:
    return dataclasses.replace(
        episode(1005.0, 1005.6, resolved_at=1030.0, alertname=alertname), inhibited_by=by
    )


def test_an_inhibited_alert_that_reached_nobody_is_not_noise() -> None:
    seen = watched(inhibited("IoTServiceDown", "src"))
    result = evaluate_noise(seen, [DOWN], RUN, notifications=[note(1006.0)])  # DOWN's only
    assert result.passed
    assert result.observed == {"unexpected": 0, "inhibited": 1, "inhibited_delivery_unknown": 0}
    (listed,) = result.evidence["inhibited"]
    assert listed["labels"]["alertname"] == "IoTServiceDown" and listed["inhibited_by"] == ["src"]


def test_an_inhibited_alert_that_reached_a_receiver_is_noise() -> None:
    seen = watched(inhibited("IoTServiceDown", "src"))
    leaked = Notification(
        1010.0,
        {
            "status": "firing",
            "alerts": [{"status": "firing", "labels": dict(seen.episodes[0].labels)}],
        },
    )
    result = evaluate_noise(seen, [DOWN], RUN, notifications=[leaked])
    assert result.status is Status.FAILED and "IoTServiceDown" in result.reason
    slack = Notification(
        1010.0, {}, receiver="slack", title="[FIRING:1] IoTServiceDown users (critical)"
    )
    assert evaluate_noise(seen, [DOWN], RUN, notifications=[slack]).status is Status.FAILED
    after = Notification(1031.0, {}, receiver="slack", title=slack.title)  # after it resolved
    assert evaluate_noise(seen, [DOWN], RUN, notifications=[after]).passed


def test_unreadable_receivers_leave_inhibited_noise_unknown_and_the_rest_counts() -> None:
    # receivers unreadable: whether the inhibited episode paged anyone is unknown, an error
    unknown = evaluate_noise(
        watched(inhibited("IoTServiceDown", "src")),
        [DOWN],
        RUN,
        sink_error="sink at http://sink.test/notifications: HTTP 503: 'down'",
    )
    assert unknown.status is Status.ERROR
    assert "inhibited (IoTServiceDown)" in unknown.reason
    assert "sink at http://sink.test/notifications: HTTP 503" in unknown.reason
    assert unknown.observed["inhibited_delivery_unknown"] == 1
    not_inhibited = watched(inhibited("IoTServiceDown"))
    assert evaluate_noise(not_inhibited, [DOWN], RUN, notifications=[]).status is Status.FAILED
