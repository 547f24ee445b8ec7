"""The alert watcher: episodes from polls (fake clock, MockTransport), and its thread."""

from __future__ import annotations

import time

import httpx

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.checks.alert_watcher import AlertWatcher
from tests.support.clocks import FakeClock
from tests.support.waiting import wait_until
from tests.unit.assertions.alert_support import (
    AM,
    FakeAlertmanager,
    down_alert,
    watcher_for,
)
from tests.unit.assertions.support import Recorder


def test_watcher_records_an_episode_from_first_sight_to_resolution() -> None:
    fake, clock = FakeAlertmanager(), FakeClock(now=100.0)
    watcher = watcher_for(fake, clock)
    watcher.poll_once()  # nothing yet
    fake.alerts = [down_alert(104.0)]
    clock.now = 105.0
    watcher.poll_once()
    clock.now = 106.0
    watcher.poll_once()
    fake.failure, clock.now = 503, 107.0
    watcher.poll_once()  # recorded, not raised, and not mistaken for a resolution
    fake.failure, fake.alerts, clock.now = None, [], 108.0
    watcher.poll_once()
    seen = watcher.observations()
    (episode,) = seen.episodes
    assert (episode.starts_at, episode.first_seen, episode.last_seen, episode.resolved_at) == (
        104.0,
        105.0,
        106.0,
        108.0,
    )
    assert episode.labels["service"] == "users" and episode.state == "active"
    assert (seen.first_poll_at, seen.last_poll_at, seen.polls) == (100.0, 108.0, 5)
    ((at, message),) = seen.errors
    assert at == 107.0 and message.startswith(f"alertmanager at {AM}/api/v2/alerts: HTTP 503")


def test_a_refiring_alert_is_a_new_episode() -> None:
    fake, clock = FakeAlertmanager(), FakeClock(now=100.0)
    watcher = watcher_for(fake, clock)
    fake.alerts = [down_alert(99.0)]
    watcher.poll_once()
    fake.alerts, clock.now = [down_alert(120.0)], 121.0  # same fingerprint, new startsAt
    watcher.poll_once()
    first, second = watcher.observations().episodes
    assert (first.starts_at, first.resolved_at) == (99.0, 121.0)
    assert (second.starts_at, second.first_seen, second.resolved_at) == (120.0, 121.0, None)


def test_a_reappearing_episode_is_no_longer_resolved() -> None:
    fake, clock = FakeAlertmanager(), FakeClock(now=100.0)
    watcher = watcher_for(fake, clock)
    fake.alerts = [down_alert(99.0)]
    watcher.poll_once()
    fake.alerts, clock.now = [], 101.0
    watcher.poll_once()
    fake.alerts, clock.now = [down_alert(99.0)], 102.0  # Alertmanager restarted, Prometheus resent
    watcher.poll_once()
    (episode,) = watcher.observations().episodes
    assert episode.resolved_at is None and episode.first_seen == 100.0


def test_the_thread_polls_until_stopped_and_survives_surprises() -> None:
    calls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("surprise")
        return httpx.Response(200, json=[down_alert(99.0)])

    watcher = AlertWatcher(AlertmanagerBackend(Recorder(handler).client(), AM), interval_s=0.01)
    with watcher:
        wait_until(lambda: len(calls) >= 4, timeout_s=5, interval_s=0.01, message="4 polls")
    count = len(calls)
    time.sleep(0.05)
    assert len(calls) == count >= 4  # stopped
    seen = watcher.observations()
    assert len(seen.episodes) == 1
    assert any("unexpected RuntimeError: surprise" in message for _, message in seen.errors)


def test_an_episode_keeps_every_inhibiting_fingerprint_and_counts_its_states() -> None:
    fake, clock = FakeAlertmanager(), FakeClock(now=100.0)
    watcher = watcher_for(fake, clock)
    alert = down_alert(99.0)
    fake.alerts = [alert]  # active: it may notify
    watcher.poll_once()
    alert["status"] = {"state": "suppressed", "inhibitedBy": ["src1"], "silencedBy": []}
    clock.now = 101.0
    watcher.poll_once()
    alert["status"] = {"state": "suppressed", "inhibitedBy": ["src2", "src1"], "silencedBy": []}
    clock.now = 102.0
    watcher.poll_once()
    (episode,) = watcher.observations().episodes
    assert episode.inhibited_by == ("src1", "src2")
    assert (episode.active_polls, episode.suppressed_polls) == (1, 2)
    assert episode.state == "suppressed"
