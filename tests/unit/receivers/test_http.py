"""The sink's HTTP side through Flask's test client: webhook, Slack, mail recorder, queries."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from chaosgate.receivers.http import create_sink_app
from chaosgate.receivers.store import NotificationStore

# the body Alertmanager 0.25 posted to /slack for the local stack's oncall receiver
SLACK_BODY = {
    "channel": "#restaurant-oncall",
    "username": "Alertmanager",
    "attachments": [
        {
            "title": "[FIRING:1] UsersServiceDown users (users critical)",
            "title_link": "http://vm:9093/#/alerts?receiver=oncall",
            "text": "",
            "fallback": "[FIRING:1] UsersServiceDown users (users critical) | http://vm:9093/",
            "callback_id": "",
            "footer": "",
            "color": "danger",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
    ],
}
MAIL = {
    "received_at_unix": 1_700_000_000.25,
    "subject": "[RESOLVED] UsersServiceDown users (users critical)",
    "from": "alertmanager@restaurant.example",
    "to": ["oncall@restaurant.example"],
    "text": "1 alert for alertname=UsersServiceDown",
    "html": "<html><body>1 alert</body></html>",
    "message_id": "<1.2@vm>",
}


@pytest.fixture
def client() -> FlaskClient:
    return create_sink_app(NotificationStore(None), clock=lambda: 42.0).test_client()


def _notifications(client: FlaskClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/notifications{query}")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.get_json()["notifications"]
    return items


@pytest.mark.parametrize("path", ["/slack", "/slack/T000/B000/XXXX"])
def test_slack_posts_are_recorded_and_answered_like_slack(client: FlaskClient, path: str) -> None:
    response = client.post(path, json=SLACK_BODY)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")
    (item,) = _notifications(client)
    assert item["receiver"] == "slack"
    assert item["title"] == "[FIRING:1] UsersServiceDown users (users critical)"
    assert item["received_at_unix"] == 42.0
    assert item["payload"] == SLACK_BODY


@pytest.mark.parametrize(
    "body",
    [{"channel": "#x"}, {"attachments": []}, {"attachments": ["x"]}, {"attachments": [{}]}],
    ids=["no-attachments", "empty", "not-an-object", "no-title"],
)
def test_a_slack_post_without_a_title_is_recorded_with_an_empty_one(
    client: FlaskClient, body: dict[str, Any]
) -> None:
    assert client.post("/slack", json=body).status_code == 200
    assert [item["title"] for item in _notifications(client)] == [""]


@pytest.mark.parametrize("data", ["not json", "[1, 2]"])
def test_a_slack_post_that_is_no_json_object_is_refused_like_slack(
    client: FlaskClient, data: str
) -> None:
    response = client.post("/slack", data=data, content_type="application/json")
    assert (response.status_code, response.get_data(as_text=True)) == (400, "invalid_payload")
    assert _notifications(client) == []


def test_a_mail_is_recorded_at_its_smtp_arrival_time(client: FlaskClient) -> None:
    assert client.post("/email", json=MAIL).status_code == 200
    (item,) = _notifications(client)
    assert item["receiver"] == "email"
    assert item["received_at_unix"] == 1_700_000_000.25  # not the clock's 42
    assert item["title"] == MAIL["subject"]
    assert item["payload"] == {k: v for k, v in MAIL.items() if k != "received_at_unix"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**MAIL, "received_at_unix": "now"}, "received_at_unix 'now' is not a number"),
        ({**MAIL, "received_at_unix": True}, "received_at_unix True is not a number"),
        ({k: v for k, v in MAIL.items() if k != "subject"}, "subject None is not a string"),
        ([MAIL], "expected a JSON object body"),
    ],
    ids=["time-text", "time-bool", "no-subject", "list"],
)
def test_a_malformed_mail_is_refused(client: FlaskClient, body: Any, message: str) -> None:
    response = client.post("/email", json=body)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(message)
    assert _notifications(client) == []


def test_a_webhook_body_that_is_no_object_is_refused(client: FlaskClient) -> None:
    assert client.post("/alerts", json=[1]).status_code == 400
    assert _notifications(client) == []


def test_queries_filter_by_receiver_status_and_alertname(client: FlaskClient) -> None:
    webhook = {
        "status": "firing",
        "alerts": [{"status": "firing", "labels": {"alertname": "UsersServiceDown"}}],
    }
    client.post("/alerts", json=webhook)
    client.post("/slack", json=SLACK_BODY)
    client.post("/email", json=MAIL)
    receivers = [item["receiver"] for item in _notifications(client, "?alertname=UsersServiceDown")]
    assert receivers == ["webhook", "slack", "email"]
    assert [i["receiver"] for i in _notifications(client, "?status=firing")] == ["webhook", "slack"]
    assert [i["receiver"] for i in _notifications(client, "?status=resolved")] == ["email"]
    assert [i["receiver"] for i in _notifications(client, "?receiver=slack&status=firing")] == [
        "slack"
    ]
    assert _notifications(client, "?receiver=email&status=firing") == []
    assert len(_notifications(client, "?receiver=&status=&alertname=")) == 3  # empty: no filter


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?receiver=pagerduty", "unknown receiver 'pagerduty'; give one of webhook, slack, email"),
        ("?status=FIRING", "unknown status 'FIRING'; give one of firing, resolved"),
    ],
)
def test_an_unknown_filter_value_is_a_400(client: FlaskClient, query: str, message: str) -> None:
    response = client.get(f"/notifications{query}")
    assert response.status_code == 400
    assert response.get_json()["error"] == message
