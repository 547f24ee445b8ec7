from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from assertions.backends.alertmanager import (
    AlertmanagerBackend,
    AlertObservation,
    label_matchers,
    parse_timestamp,
)
from assertions.backends.errors import BackendError
from tests.unit.assertions.fake_backends import am_alert
from tests.unit.assertions.support import FAILURES, Recorder, failing

URL = "http://am.test:9093"
DATA = Path(__file__).parent / "data"


def test_lists_alerts_with_unix_timestamps() -> None:
    recorder = Recorder(
        lambda request: httpx.Response(200, json=[am_alert("UsersServiceDown", service="users")])
    )
    (alert,) = AlertmanagerBackend(recorder.client(), URL).alerts()
    assert alert == AlertObservation(
        fingerprint="4e05fb5092683130",
        labels={"alertname": "UsersServiceDown", "severity": "critical", "service": "users"},
        starts_at=1795616996.183,
        ends_at=1795617016.183,
        state="active",
    )
    (request,) = recorder.requests
    assert request.url.path == "/api/v2/alerts"
    assert request.url.params.get_list("active") == ["true"]


def test_an_inhibited_alert_names_its_sources() -> None:
    alert = am_alert("DatabaseTooManyConnections", state="suppressed", service="orders")
    alert["status"] = {"state": "suppressed", "inhibitedBy": ["a1", "b2"], "silencedBy": ["s"]}
    recorder = Recorder(lambda request: httpx.Response(200, json=[alert]))
    (seen,) = AlertmanagerBackend(recorder.client(), URL).alerts()
    assert (seen.state, seen.inhibited_by, seen.silenced_by) == ("suppressed", ("a1", "b2"), ("s",))


def test_sends_filters_as_repeated_matchers() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=[]))
    backend = AlertmanagerBackend(recorder.client(), URL)
    assert backend.alerts(filters=label_matchers({"alertname": "X", "service": 'a"b'})) == []
    assert recorder.requests[0].url.params.get_list("filter") == [
        'alertname="X"',
        'service="a\\"b"',
    ]


def test_timestamps() -> None:
    assert parse_timestamp("2026-11-25T14:29:56.183456789Z") == pytest.approx(1795616996.183456)
    assert parse_timestamp("2026-11-25T15:29:56+01:00") == 1795616996.0
    assert parse_timestamp("0001-01-01T00:00:00Z") is None
    with pytest.raises(ValueError, match="time zone"):
        parse_timestamp("2026-11-25T14:29:56")


def test_zero_ends_at_is_none() -> None:
    alert = am_alert("X", ends_at="0001-01-01T00:00:00Z")
    recorder = Recorder(lambda request: httpx.Response(200, json=[alert]))
    assert AlertmanagerBackend(recorder.client(), URL).alerts()[0].ends_at is None


@pytest.mark.parametrize("kind", FAILURES)
def test_failures_become_one_backend_error(kind: str) -> None:
    with pytest.raises(BackendError, match=f"^alertmanager at {URL}/api/v2/alerts: "):
        AlertmanagerBackend(Recorder(failing(kind)).client(), URL).alerts()


@pytest.mark.parametrize(
    "body",
    [
        {"alerts": []},
        [{"labels": {}}],
        [{**am_alert("X"), "startsAt": "yesterday"}],
        [{**am_alert("X"), "startsAt": "0001-01-01T00:00:00Z"}],
        [{**am_alert("X"), "labels": ["a"]}],
        [{**am_alert("X"), "status": "active"}],
        [{**am_alert("X"), "status": {"state": "suppressed", "inhibitedBy": "fp"}}],
    ],
    ids=[
        "object",
        "no-fingerprint",
        "bad-time",
        "zero-start",
        "labels-list",
        "status-string",
        "inhibited-by-string",
    ],
)
def test_wrong_shapes_are_backend_errors(body: Any) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=body))
    with pytest.raises(BackendError, match="malformed answer"):
        AlertmanagerBackend(recorder.client(), URL).alerts()


# --- the configuration (/api/v2/status) ---

STATUS = json.loads((DATA / "alertmanager-0.25-status.json").read_text())  # a real answer


def test_config_is_the_loaded_yaml_parsed() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=STATUS))
    config = AlertmanagerBackend(recorder.client(), URL + "/").config()
    assert config["route"]["receiver"] == "team-slack"
    assert [route["receiver"] for route in config["route"]["routes"]] == ["oncall", "team-slack"]
    assert config["route"]["routes"][0]["matchers"] == ['severity="critical"']
    oncall = config["receivers"][0]
    assert oncall["name"] == "oncall"
    assert {"slack_configs", "email_configs", "webhook_configs"} <= set(oncall)
    (request,) = recorder.requests
    assert (request.method, str(request.url)) == ("GET", f"{URL}/api/v2/status")


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"cluster": {}},
        {"config": {}},
        {"config": {"original": 42}},
        {"config": {"original": "route: [unclosed"}},
        {"config": {"original": "just text"}},
    ],
    ids=["list", "no-config", "no-original", "not-text", "bad-yaml", "not-a-mapping"],
)
def test_a_malformed_status_is_a_backend_error(body: Any) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=body))
    with pytest.raises(BackendError, match=f"^alertmanager at {URL}/api/v2/status: malformed"):
        AlertmanagerBackend(recorder.client(), URL).config()


@pytest.mark.parametrize("kind", FAILURES)
def test_config_failures_become_one_backend_error(kind: str) -> None:
    with pytest.raises(BackendError, match=f"^alertmanager at {URL}/api/v2/status: "):
        AlertmanagerBackend(Recorder(failing(kind)).client(), URL).config()
