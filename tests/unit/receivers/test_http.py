"""The sink's HTTP side through Flask's test client: webhook, Slack, mail recorder, queries,
and the shapes it accepts (the credential and size bounds on real servers: test_auth.py)."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from chaosgate.receivers.credential import Credential
from chaosgate.receivers.http import create_query_app, create_sink_app
from chaosgate.receivers.store import NotificationStore
from tests.unit.receivers.conftest import recorded_body

CREDENTIAL = Credential(source="test", _token="t" * 32)
AUTH = {"Authorization": CREDENTIAL.bearer()}
SLACK_BODY = recorded_body("slack")
WEBHOOK_BODY = recorded_body("webhook")
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
    return create_sink_app(NotificationStore(None), CREDENTIAL, clock=lambda: 42.0).test_client()


def _notifications(client: FlaskClient, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/notifications{query}")
    assert response.status_code == 200
    items: list[dict[str, Any]] = response.get_json()["notifications"]
    return items


@pytest.mark.parametrize("path", ["/slack", "/slack/T000/B000/XXXX"])
def test_slack_posts_are_recorded_and_answered_like_slack(client: FlaskClient, path: str) -> None:
    response = client.post(path, json=SLACK_BODY, headers=AUTH)
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")
    (item,) = _notifications(client)
    assert item["receiver"] == "slack"
    assert item["title"] == "[FIRING:1] UsersServiceDown users (critical)"
    assert item["received_at_unix"] == 42.0
    assert item["payload"] == SLACK_BODY


@pytest.mark.parametrize(
    "attachment", [{}, {"text": "", "fallback": ""}], ids=["empty", "no-title"]
)
def test_a_slack_attachment_without_a_title_is_recorded_with_an_empty_one(
    client: FlaskClient, attachment: dict[str, Any]
) -> None:
    """Alertmanager leaves ``title`` out when its template renders nothing."""
    assert (
        client.post("/slack", json={"attachments": [attachment]}, headers=AUTH).status_code == 200
    )
    assert [item["title"] for item in _notifications(client)] == [""]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"channel": "#x"}',
        '{"attachments": []}',
        '{"attachments": ["x"]}',
        '{"attachments": [{"title": 7}]}',
    ],
    ids=["not-json", "list", "no-attachments", "none", "not-an-object", "title-number"],
)
def test_a_slack_post_not_shaped_as_alertmanagers_is_refused_like_slack(
    client: FlaskClient, body: str
) -> None:
    response = client.post("/slack", data=body, content_type="application/json", headers=AUTH)
    assert (response.status_code, response.get_data(as_text=True)) == (400, "invalid_payload")
    assert _notifications(client) == []


def test_alertmanagers_webhook_message_is_recorded(client: FlaskClient) -> None:
    response = client.post("/alerts", json=WEBHOOK_BODY, headers=AUTH)
    assert (response.status_code, response.get_json()) == (200, {"recorded": True})
    (item,) = _notifications(client)
    assert (item["receiver"], item["title"], item["payload"]) == ("webhook", "", WEBHOOK_BODY)


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


def _first_alert(**changes: Any) -> dict[str, Any]:
    alert = {**WEBHOOK_BODY["alerts"][0], **changes}
    return {**WEBHOOK_BODY, "alerts": [alert]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([WEBHOOK_BODY], "expected a JSON object body (an Alertmanager webhook message)"),
        (_without(WEBHOOK_BODY, "version"), "version: Field required"),
        (_without(WEBHOOK_BODY, "groupKey"), "groupKey: Field required"),
        ({**WEBHOOK_BODY, "status": "FIRING"}, "status: Input should be 'firing' or 'resolved'"),
        ({**WEBHOOK_BODY, "alerts": []}, "alerts: List should have at least 1 item"),
        ({**WEBHOOK_BODY, "alerts": ["x"]}, "alerts.0: Input should be a valid dictionary"),
        (_first_alert(labels={"alertname": 1}), "alerts.0.labels.alertname: Input should be"),
        (_first_alert(status="pending"), "alerts.0.status: Input should be 'firing' or"),
        ({**WEBHOOK_BODY, "groupLabels": None}, "groupLabels: Input should be a valid dict"),
    ],
    ids=[
        "list", "no-version", "no-group-key", "status", "no-alerts", "alert-text",
        "label-number", "alert-status", "group-labels-null",
    ],
)  # fmt: skip
def test_a_webhook_body_not_shaped_as_alertmanagers_is_refused(
    client: FlaskClient, body: Any, message: str
) -> None:
    response = client.post("/alerts", json=body, headers=AUTH)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert message in error, error
    assert "3202cc170f7ff677" not in error  # names the field, never echoes the body
    assert _notifications(client) == []


def test_a_mail_is_recorded_at_its_smtp_arrival_time(client: FlaskClient) -> None:
    assert client.post("/email", json=MAIL, headers=AUTH).status_code == 200
    (item,) = _notifications(client)
    assert item["receiver"] == "email"
    assert item["received_at_unix"] == 1_700_000_000.25  # not the clock's 42
    assert item["title"] == MAIL["subject"]
    assert item["payload"] == {k: v for k, v in MAIL.items() if k != "received_at_unix"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**MAIL, "received_at_unix": "now"}, "received_at_unix: Input should be a valid"),
        ({**MAIL, "received_at_unix": True}, "received_at_unix: Input should be a valid"),
        (_without(MAIL, "subject"), "subject: Field required"),
        ({**MAIL, "to": "oncall@restaurant.example"}, "to: Input should be a valid list"),
        ([MAIL], "expected a JSON object body"),
    ],
    ids=["time-text", "time-bool", "no-subject", "to-text", "list"],
)
def test_a_malformed_mail_is_refused(client: FlaskClient, body: Any, message: str) -> None:
    response = client.post("/email", json=body, headers=AUTH)
    assert response.status_code == 400
    assert message in response.get_json()["error"]
    assert _notifications(client) == []


def test_queries_filter_by_receiver_status_and_alertname(client: FlaskClient) -> None:
    client.post("/alerts", json=WEBHOOK_BODY, headers=AUTH)
    client.post("/slack", json=SLACK_BODY, headers=AUTH)
    client.post("/email", json=MAIL, headers=AUTH)
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


def test_the_query_app_reads_the_same_record_and_takes_no_delivery() -> None:
    store = NotificationStore(None)
    sink = create_sink_app(store, CREDENTIAL).test_client()
    reads = create_query_app(store).test_client()
    assert sink.post("/alerts", json=WEBHOOK_BODY, headers=AUTH).status_code == 200
    assert len(reads.get("/notifications").get_json()["notifications"]) == 1
    assert reads.get("/healthz").status_code == 200
    for path in ("/alerts", "/slack", "/email", "/"):
        assert reads.post(path, json=WEBHOOK_BODY, headers=AUTH).status_code in (404, 405)
    assert len(store.query()) == 1
