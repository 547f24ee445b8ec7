from __future__ import annotations

import json
from pathlib import Path

from chaosgate.sink import NotificationStore, create_sink_app

PAYLOAD = {
    "status": "firing",
    "alerts": [{"status": "firing", "labels": {"alertname": "UsersServiceDown"}}],
}


def test_records_arrival_time_and_payload(tmp_path: Path) -> None:
    store = NotificationStore(tmp_path / "n.jsonl")
    client = create_sink_app(store, clock=lambda: 1_700_000_000.5).test_client()
    assert client.post("/alerts", json=PAYLOAD).status_code == 200
    items = client.get("/notifications").get_json()["notifications"]
    assert len(items) == 1
    assert items[0]["received_at_unix"] == 1_700_000_000.5
    assert items[0]["received_at"].startswith("2023-11-14T22:13:20.5")
    assert items[0]["payload"] == PAYLOAD


def test_filters_by_alertname_and_status(tmp_path: Path) -> None:
    store = NotificationStore(None)
    client = create_sink_app(store).test_client()
    resolved = {**PAYLOAD, "status": "resolved"}
    other = {"status": "firing", "alerts": [{"labels": {"alertname": "NodeHighCPU"}}]}
    for body in (PAYLOAD, resolved, other):
        client.post("/", json=body)
    by_name = client.get("/notifications?alertname=UsersServiceDown").get_json()["notifications"]
    assert [item["payload"]["status"] for item in by_name] == ["firing", "resolved"]
    firing = client.get("/notifications?status=firing").get_json()["notifications"]
    assert len(firing) == 2


def test_nothing_is_lost_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    create_sink_app(NotificationStore(path)).test_client().post("/alerts", json=PAYLOAD)
    reloaded = NotificationStore(path)
    assert [item["payload"] for item in reloaded.query()] == [PAYLOAD]
    assert json.loads(path.read_text().splitlines()[0])["payload"] == PAYLOAD


def test_rejects_a_body_that_is_not_json() -> None:
    client = create_sink_app(NotificationStore(None)).test_client()
    response = client.post("/alerts", data="nope", content_type="text/plain")
    assert response.status_code == 400
    assert client.get("/notifications").get_json()["notifications"] == []
