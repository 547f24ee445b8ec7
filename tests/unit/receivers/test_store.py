"""The record: what each receiver's notification keeps, the file it survives in, the filters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosgate.receivers.store import NotificationStore

WEBHOOK = {
    "status": "firing",
    "alerts": [
        {"status": "firing", "labels": {"alertname": "UsersServiceDown", "service": "users"}},
        {"status": "firing", "labels": "not labels"},
    ],
}
SLACK = {"channel": "#restaurant-oncall", "attachments": [{"title": "t"}]}
MAIL = {"subject": "s", "from": "a@x", "to": ["b@x"], "text": "", "html": ""}


def _filled(store: NotificationStore) -> NotificationStore:
    store.record(WEBHOOK, received_at=1.0)
    store.record({**WEBHOOK, "status": "resolved"}, received_at=2.0)
    store.record(
        SLACK, received_at=3.0, receiver="slack", title="[FIRING:1] UsersServiceDown users"
    )
    store.record(MAIL, received_at=4.0, receiver="email", title="[RESOLVED] UsersServiceDown users")
    store.record(SLACK, received_at=5.0, receiver="slack", title="[FIRING:2] NodeHighCPU (warning)")
    return store


def test_a_record_names_its_receiver_time_and_title(tmp_path: Path) -> None:
    store = NotificationStore(tmp_path / "n.jsonl")
    item = store.record(SLACK, received_at=1_700_000_000.5, receiver="slack", title="[FIRING:1] X")
    assert item == {
        "receiver": "slack",
        "received_at_unix": 1_700_000_000.5,
        "received_at": "2023-11-14T22:13:20.500000+00:00",
        "title": "[FIRING:1] X",
        "payload": SLACK,
    }
    assert json.loads((tmp_path / "n.jsonl").read_text()) == item


def test_every_receiver_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    before = _filled(NotificationStore(path)).query()
    assert NotificationStore(path).query() == before
    assert [item["receiver"] for item in before] == [
        "webhook",
        "webhook",
        "slack",
        "email",
        "slack",
    ]


def test_records_of_the_webhook_only_sink_reload_as_webhooks(tmp_path: Path) -> None:
    path = tmp_path / "n.jsonl"
    old = {"received_at": "1970-01-01T00:00:01+00:00", "received_at_unix": 1.0, "payload": WEBHOOK}
    path.write_text(json.dumps(old) + "\n\n")
    assert NotificationStore(path).query(receiver="webhook") == [
        {**old, "receiver": "webhook", "title": ""}
    ]


@pytest.mark.parametrize(
    ("filters", "times"),
    [
        ({}, [1.0, 2.0, 3.0, 4.0, 5.0]),
        ({"receiver": "webhook"}, [1.0, 2.0]),
        ({"receiver": "slack"}, [3.0, 5.0]),
        ({"receiver": "email"}, [4.0]),
        ({"status": "firing"}, [1.0, 3.0, 5.0]),
        ({"status": "resolved"}, [2.0, 4.0]),
        ({"alertname": "UsersServiceDown"}, [1.0, 2.0, 3.0, 4.0]),
        ({"alertname": "NodeHighCPU"}, [5.0]),
        ({"alertname": "UsersService"}, []),  # a whole word of the title
        ({"alertname": "warning"}, [5.0]),  # the title's words, parentheses dropped
        ({"receiver": "slack", "status": "firing", "alertname": "UsersServiceDown"}, [3.0]),
        ({"receiver": "email", "status": "firing"}, []),
    ],
)
def test_filters(filters: dict[str, str], times: list[float]) -> None:
    store = _filled(NotificationStore(None))
    assert [item["received_at_unix"] for item in store.query(**filters)] == times


def test_an_unknown_receiver_is_not_recorded() -> None:
    store = NotificationStore(None)
    with pytest.raises(ValueError, match=r"^unknown receiver 'pagerduty'; record one of webhook"):
        store.record({}, received_at=1.0, receiver="pagerduty")
    assert store.query() == []
