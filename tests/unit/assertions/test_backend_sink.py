from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from assertions.backends.errors import BackendError
from assertions.backends.sink import Notification, SinkBackend, title_tokens
from tests.unit.assertions.support import FAILURES, Recorder, failing

URL = "http://sink.test:9095"
PAYLOAD = {
    "status": "firing",
    "alerts": [
        {"status": "firing", "labels": {"alertname": "UsersServiceDown"}},
        "not an alert",
    ],
}


def test_lists_notifications_and_passes_filters() -> None:
    items = [
        {
            "received_at": "2023-11-14T22:13:20.5+00:00",
            "received_at_unix": 1700000000.5,
            "payload": PAYLOAD,
        }
    ]
    recorder = Recorder(lambda request: httpx.Response(200, json={"notifications": items}))
    (note,) = SinkBackend(recorder.client(), URL).notifications(
        alertname="UsersServiceDown", status="firing"
    )
    assert note == Notification(received_at_unix=1700000000.5, payload=PAYLOAD)
    assert list(note.alerts()) == [PAYLOAD["alerts"][0]]
    (request,) = recorder.requests
    assert request.url.path == "/notifications"
    assert dict(request.url.params) == {"alertname": "UsersServiceDown", "status": "firing"}


def test_no_filter_no_params() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"notifications": []}))
    assert SinkBackend(recorder.client(), URL + "/").notifications() == []
    assert str(recorder.requests[0].url) == f"{URL}/notifications"


@pytest.mark.parametrize("kind", FAILURES)
def test_failures_become_one_backend_error(kind: str) -> None:
    with pytest.raises(BackendError, match=f"^sink at {URL}/notifications: "):
        SinkBackend(Recorder(failing(kind)).client(), URL).notifications()


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"notifications": {}},
        {"notifications": [{"payload": {}}]},
        {"notifications": [{"received_at_unix": "soon", "payload": {}}]},
        {"notifications": [{"received_at_unix": 1.0, "payload": []}]},
        {"notifications": [{"received_at_unix": 1.0, "payload": {"alerts": 5}}]},
        {"notifications": [{"received_at_unix": 1.0, "payload": {"alerts": "abc"}}]},
        {"notifications": [{"received_at_unix": 1.0, "payload": {"alerts": [{"labels": 1}]}}]},
    ],
    ids=[
        "list",
        "object",
        "no-time",
        "time-string",
        "payload-list",
        "alerts-number",
        "alerts-text",
        "labels-number",
    ],
)
def test_wrong_shapes_are_backend_errors(body: Any) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=body))
    with pytest.raises(BackendError, match="malformed answer"):
        SinkBackend(recorder.client(), URL).notifications()


# titles as Alertmanager 0.25 rendered them for the local stack's route tree
SLACK_FIRING = "[FIRING:1] UsersServiceDown users (users critical)"
SLACK_RESOLVED = "[RESOLVED] UsersServiceDown users (users critical)"
SLACK_PAYLOAD = {
    "channel": "#restaurant-oncall",
    "username": "Alertmanager",
    "attachments": [{"title": SLACK_FIRING, "text": "", "color": "danger"}],
}
MAIL_PAYLOAD = {
    "subject": "[FIRING:2] NodeHighCPU",
    "from": "alertmanager@restaurant.example",
    "to": ["oncall@restaurant.example"],
    "text": "2 alerts for alertname=NodeHighCPU",
    "html": "<html>...</html>",
}


def _record(receiver: str, title: Any, payload: Any, at: float = 1.0) -> dict[str, Any]:
    return {"receiver": receiver, "received_at_unix": at, "title": title, "payload": payload}


def test_receiver_and_title_come_from_the_sink() -> None:
    items = [
        _record("slack", SLACK_FIRING, SLACK_PAYLOAD, 2.0),
        _record("email", MAIL_PAYLOAD["subject"], MAIL_PAYLOAD, 3.5),
        _record("webhook", "", PAYLOAD, 4),
    ]
    recorder = Recorder(lambda request: httpx.Response(200, json={"notifications": items}))
    slack, mail, hook = SinkBackend(recorder.client(), URL).notifications()
    assert slack == Notification(2.0, SLACK_PAYLOAD, receiver="slack", title=SLACK_FIRING)
    assert (mail.receiver, mail.title, mail.received_at_unix) == (
        "email",
        "[FIRING:2] NodeHighCPU",
        3.5,
    )
    assert (hook.receiver, hook.title, hook.received_at_unix) == ("webhook", "", 4.0)
    assert list(slack.alerts()) == [] and list(mail.alerts()) == []


def test_every_filter_is_a_query_parameter() -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"notifications": []}))
    backend = SinkBackend(recorder.client(), URL)
    backend.notifications(receiver="slack", alertname="UsersServiceDown", status="resolved")
    backend.notifications(receiver="email")
    assert [dict(request.url.params) for request in recorder.requests] == [
        {"receiver": "slack", "alertname": "UsersServiceDown", "status": "resolved"},
        {"receiver": "email"},
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"receiver": "pagerduty"},
            "unknown receiver 'pagerduty'; give one of webhook, slack, email",
        ),
        ({"status": "FIRING"}, "unknown status 'FIRING'; give firing, resolved or None"),
    ],
)
def test_a_bad_filter_is_refused_before_any_request(
    arguments: dict[str, str], message: str
) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"notifications": []}))
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        SinkBackend(recorder.client(), URL).notifications(**arguments)
    assert recorder.requests == []


@pytest.mark.parametrize(
    "item",
    [
        _record("pagerduty", "", {}),
        _record("slack", None, {}),
    ],
    ids=["unknown-receiver", "title-null"],
)
def test_a_bad_receiver_or_title_is_a_backend_error(item: dict[str, Any]) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json={"notifications": [item]}))
    with pytest.raises(BackendError, match="malformed answer"):
        SinkBackend(recorder.client(), URL).notifications()


# --- Notification: status, firing_count, mentions ---


def _webhook(status: str, *alerts: tuple[str, dict[str, str]]) -> Notification:
    return Notification(
        1.0,
        {
            "status": status,
            "alerts": [{"status": s, "labels": labels} for s, labels in alerts],
        },
    )


def test_status_of_a_webhook_is_its_payloads() -> None:
    assert _webhook("firing").status == "firing"
    assert _webhook("resolved").status == "resolved"
    assert Notification(1.0, {"status": "weird"}).status == ""
    assert Notification(1.0, {}).status == ""


@pytest.mark.parametrize(
    ("title", "status", "count"),
    [
        ("[FIRING:3] NodeHighCPU (warning)", "firing", 3),
        ("[RESOLVED] NodeHighCPU (warning)", "resolved", 0),
        ("NodeHighCPU is firing", "", None),
        ("", "", None),
        (" [FIRING:1] NodeHighCPU", "", None),  # the prefix opens the title
    ],
)
def test_status_and_count_of_slack_and_email_are_read_from_the_title(
    title: str, status: str, count: int | None
) -> None:
    for receiver in ("slack", "email"):
        note = Notification(1.0, {}, receiver=receiver, title=title)
        assert (note.status, note.firing_count) == (status, count)


def test_firing_count_of_a_webhook_counts_its_firing_alerts() -> None:
    note = _webhook(
        "firing",
        ("firing", {"alertname": "A"}),
        ("resolved", {"alertname": "A"}),
        ("firing", {"alertname": "A"}),
    )
    assert note.firing_count == 2
    assert _webhook("resolved", ("resolved", {"alertname": "A"})).firing_count == 0


def test_a_webhook_mentions_an_alert_by_its_own_status_and_labels() -> None:
    note = _webhook(
        "firing",
        ("firing", {"alertname": "UsersServiceDown", "service": "users", "pod": "users-7f9"}),
        ("resolved", {"alertname": "GatewayHighErrorRate", "service": "gateway"}),
    )
    assert note.mentions("UsersServiceDown")
    assert note.mentions("UsersServiceDown", {"service": "users"})
    assert note.mentions("UsersServiceDown", label_patterns={"pod": "users-.*"})
    assert not note.mentions("UsersServiceDown", label_patterns={"pod": "users"})  # fullmatch
    assert not note.mentions("UsersServiceDown", {"service": "iot"})
    assert not note.mentions("UsersServiceDown", status="resolved")
    # a firing payload may carry an alert of its group that resolved
    assert note.mentions("GatewayHighErrorRate", {"service": "gateway"}, status="resolved")
    assert not note.mentions("GatewayHighErrorRate")
    assert not note.mentions("IoTServiceDown")


def test_slack_and_email_mention_what_their_title_lists() -> None:
    for receiver in ("slack", "email"):
        firing = Notification(1.0, {}, receiver=receiver, title=SLACK_FIRING)
        assert firing.mentions("UsersServiceDown")
        assert firing.mentions("UsersServiceDown", {"service": "users", "severity": "critical"})
        assert not firing.mentions("UsersServiceDown", {"service": "iot"})
        assert not firing.mentions("UsersService")  # a whole word, not a part of one
        assert not firing.mentions("UsersServiceDown", status="resolved")
        # label patterns cannot be judged on a title: ignored
        assert firing.mentions("UsersServiceDown", label_patterns={"pod": "nothing-like-it"})
        resolved = Notification(1.0, {}, receiver=receiver, title=SLACK_RESOLVED)
        assert resolved.mentions("UsersServiceDown", {"service": "users"}, status="resolved")
        assert not resolved.mentions("UsersServiceDown")


def test_title_tokens_drop_the_parentheses_of_common_labels() -> None:
    assert title_tokens(SLACK_FIRING) == frozenset(
        {"[FIRING:1]", "UsersServiceDown", "users", "critical"}
    )
    assert title_tokens("") == frozenset()
