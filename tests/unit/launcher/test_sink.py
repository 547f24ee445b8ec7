"""The sink's record through ``chaosgate.sink`` (the names its callers import): arrival time,
filters, a restart, a body that is not JSON; every delivery with the receivers' token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaosgate.receivers.credential import Credential
from chaosgate.sink import NotificationStore, create_sink_app

CREDENTIAL = Credential(source="test", _token="sink-test-token-0123456789")
AUTH = {"Authorization": CREDENTIAL.bearer()}


def _message(alertname: str, status: str = "firing") -> dict[str, Any]:
    """An Alertmanager webhook message with one alert."""
    labels = {"alertname": alertname, "severity": "critical"}
    return {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{alertname}"}}',
        "status": status,
        "receiver": "oncall",
        "groupLabels": {"alertname": alertname},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://vm:9093",
        "truncatedAlerts": 0,
        "alerts": [
            {
                "status": status,
                "labels": labels,
                "annotations": {},
                "startsAt": "2023-11-14T22:13:20Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "0123456789abcdef",
            }
        ],
    }


PAYLOAD = _message("UsersServiceDown")


def test_records_arrival_time_and_payload(tmp_path: Path) -> None:
    store = NotificationStore(tmp_path / "n.jsonl")
    client = create_sink_app(store, CREDENTIAL, clock=lambda: 1_700_000_000.5).test_client()
    assert client.post("/alerts", json=PAYLOAD, headers=AUTH).status_code == 200
    items = client.get("/notifications").get_json()["notifications"]
    assert len(items) == 1
    assert items[0]["received_at_unix"] == 1_700_000_000.5
    assert items[0]["received_at"].startswith("2023-11-14T22:13:20.5")
    assert items[0]["payload"] == PAYLOAD


def test_filters_by_alertname_and_status(tmp_path: Path) -> None:
    store = NotificationStore(None)
    client = create_sink_app(store, CREDENTIAL).test_client()
    resolved = _message("UsersServiceDown", "resolved")
    for body in (PAYLOAD, resolved, _message("NodeHighCPU")):
        assert client.post("/", json=body, headers=AUTH).status_code == 200
    by_name = client.get("/notifications?alertname=UsersServiceDown").get_json()["notifications"]
    assert [item["payload"]["status"] for item in by_name] == ["firing", "resolved"]
    firing = client.get("/notifications?status=firing").get_json()["notifications"]
    assert len(firing) == 2


def test_nothing_is_lost_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    client = create_sink_app(NotificationStore(path), CREDENTIAL).test_client()
    client.post("/alerts", json=PAYLOAD, headers=AUTH)
    reloaded = NotificationStore(path)
    assert [item["payload"] for item in reloaded.query()] == [PAYLOAD]
    assert json.loads(path.read_text().splitlines()[0])["payload"] == PAYLOAD


def test_rejects_a_body_that_is_not_json() -> None:
    client = create_sink_app(NotificationStore(None), CREDENTIAL).test_client()
    response = client.post("/alerts", data="nope", content_type="text/plain", headers=AUTH)
    assert response.status_code == 400
    assert client.get("/notifications").get_json()["notifications"] == []


def test_rejects_a_delivery_without_the_token() -> None:
    client = create_sink_app(NotificationStore(None), CREDENTIAL).test_client()
    assert client.post("/alerts", json=PAYLOAD).status_code == 401
    assert client.get("/notifications").get_json()["notifications"] == []
