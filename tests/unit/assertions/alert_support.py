"""Shared pieces of the alert tests: Alertmanager alerts and episodes, watched snapshots,
sink notifications, and a fake Alertmanager answering through a MockTransport."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.sink import Notification
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations, AlertWatcher
from assertions.result import CheckResult
from chaosgate.vocabulary import ExpectedAlert
from tests.support.clocks import FakeClock
from tests.unit.assertions.fake_backends import am_alert
from tests.unit.assertions.support import Recorder

__all__ = [
    "AM",
    "DISK",
    "DOWN",
    "INJECT",
    "NET",
    "NET_KEY",
    "SINK",
    "FakeAlertmanager",
    "by_suffix",
    "disk",
    "down_alert",
    "episode",
    "iso",
    "net",
    "note",
    "titled",
    "watched",
    "watcher_for",
    "webhook",
]

AM = "http://am.test:9093"
SINK = "http://sink.test:9095"
DOWN = ExpectedAlert("UsersServiceDown", {"service": "users"}, deadline_s=30.0)


def iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat().replace("+00:00", "Z")


def down_alert(starts_at: float, fingerprint: str = "fp1", **labels: str) -> dict[str, Any]:
    return am_alert(
        "UsersServiceDown",
        fingerprint=fingerprint,
        starts_at=iso(starts_at),
        ends_at=iso(starts_at + 20),
        service="users",
        **labels,
    )


class FakeAlertmanager:
    """Answers with whatever ``alerts`` holds now, or fails when ``failure`` is set."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.failure: int | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.failure is not None:
            return httpx.Response(self.failure, text="unavailable")
        return httpx.Response(200, json=self.alerts)


def watcher_for(fake: FakeAlertmanager, clock: FakeClock) -> AlertWatcher:
    return AlertWatcher(AlertmanagerBackend(Recorder(fake).client(), AM), clock=clock)


INJECT = 1000.0


def episode(
    starts_at: float, first_seen: float, resolved_at: float | None = None, **labels: str
) -> AlertEpisode:
    return AlertEpisode(
        fingerprint="fp1",
        labels={
            "alertname": "UsersServiceDown",
            "service": "users",
            "severity": "critical",
            **labels,
        },
        starts_at=starts_at,
        first_seen=first_seen,
        last_seen=resolved_at - 0.5 if resolved_at else first_seen,
        ends_at=None,
        state="active",
        resolved_at=resolved_at,
    )


def watched(
    *episodes: AlertEpisode,
    first: float = 990.0,
    last: float = 1100.0,
    errors: tuple[tuple[float, str], ...] = (),
) -> AlertObservations:
    return AlertObservations(tuple(episodes), first, last, polls=42, errors=errors)


def note(at: float, status: str = "firing", **labels: str) -> Notification:
    alert = {
        "status": status,
        "labels": {"alertname": "UsersServiceDown", "service": "users", **labels},
    }
    return Notification(received_at_unix=at, payload={"status": status, "alerts": [alert]})


def by_suffix(results: list[CheckResult]) -> dict[str, CheckResult]:
    """Results by what follows ``alert.<title>.``: fired, notified.webhook, resolved..."""
    found = {}
    for result in results:
        match = re.search(r"\.(fired|resolved|notified(?:\.[a-z_]+)?)$", result.name)
        assert match, result.name
        found[match.group(1)] = result
    return found


# --- webhook notifications as Alertmanager 0.25 sends them, a group of two devices ---

NET = {"alertname": "NetworkHighErrorRate", "service": "gateway", "severity": "critical"}
NET_KEY = '{}/{severity="critical"}:{alertname="NetworkHighErrorRate", service="gateway"}'


def net(device: str, starts_at: float, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {**NET, "device": device, **labels},
        "annotations": {},
        "startsAt": iso(starts_at),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": f"fp-{device}",
    }


def webhook(
    at: float,
    *alerts: dict[str, Any],
    key: str = NET_KEY,
    group_labels: dict[str, str] | None = None,
) -> Notification:
    firing = any(alert["status"] == "firing" for alert in alerts)
    payload = {
        "receiver": "oncall",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": group_labels or {"alertname": NET["alertname"], "service": "gateway"},
        "commonLabels": NET,
        "groupKey": key,
        "truncatedAlerts": 0,
    }
    return Notification(at, payload)


# --- a warning group of two full filesystems, as the watcher and Slack / email see it ---

DISK = {"alertname": "NodeDiskAlmostFull", "severity": "warning", "component": "node"}


def disk(
    mountpoint: str,
    starts_at: float,
    *,
    last_seen: float | None = None,
    resolved_at: float | None = None,
    suppressed_polls: int = 0,
) -> AlertEpisode:
    """A NodeDiskAlmostFull episode (no service label) seen from ``starts_at + 0.5``."""
    return AlertEpisode(
        fingerprint=f"fp-disk{mountpoint.replace('/', '-')}",
        labels={**DISK, "instance": "node:9100", "mountpoint": mountpoint},
        starts_at=starts_at,
        first_seen=starts_at + 0.5,
        last_seen=last_seen if last_seen is not None else starts_at + 60.0,
        ends_at=None,
        state="suppressed" if suppressed_polls else "active",
        resolved_at=resolved_at,
        suppressed_polls=suppressed_polls,
        active_polls=0 if suppressed_polls else 10,
    )


def titled(at: float, title: str, receiver: str = "slack") -> Notification:
    """A Slack or email notification whose title / subject is ``title``."""
    if receiver == "slack":
        payload: dict[str, Any] = {"attachments": [{"title": title}]}
    else:
        payload = {"subject": title, "to": ["team@restaurant.example"], "text": ""}
    return Notification(at, payload, receiver=receiver, title=title)
