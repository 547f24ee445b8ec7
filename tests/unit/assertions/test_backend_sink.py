from __future__ import annotations

from typing import Any

import httpx
import pytest

from assertions.backends.errors import BackendError
from assertions.backends.sink import Notification, SinkBackend
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
    ],
    ids=["list", "object", "no-time", "time-string", "payload-list"],
)
def test_wrong_shapes_are_backend_errors(body: Any) -> None:
    recorder = Recorder(lambda request: httpx.Response(200, json=body))
    with pytest.raises(BackendError, match="malformed answer"):
        SinkBackend(recorder.client(), URL).notifications()
