"""The SMTP receiver for real: aiosmtpd on a free port, mails sent with smtplib after AUTH,
recorded by the real HTTP sink (or refused with a temporary 451 while it cannot take them).
What it refuses (no AUTH, a wrong one, too large, no Subject) is in test_auth.py."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from chaosgate.receivers.credential import SMTP_USERNAME, Credential
from chaosgate.receivers.smtp import HttpRecorder, RecordingHandler, smtp_options
from tests.unit.receivers.conftest import RunningSink, free_port

ALERTMANAGER_MAIL = Path(__file__).parent / "data" / "alertmanager-0.25-firing.eml"
FROM, TO = "alertmanager@restaurant.example", "oncall@restaurant.example"
CREDENTIAL = Credential(source="test", _token="smtp-test-token-0123456789")
PASSWORD = CREDENTIAL.bearer().removeprefix("Bearer ")


@contextmanager
def smtp_receiver(recorder: HttpRecorder, clock: float = 1_700_000_000.5) -> Iterator[int]:
    port = free_port()
    controller = Controller(
        RecordingHandler(recorder, clock=lambda: clock), hostname="127.0.0.1", port=port,
        **smtp_options(CREDENTIAL),
    )  # fmt: skip
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _send(port: int, raw: bytes) -> None:
    """Send ``raw`` with CRLF line ends, as on the wire (aiosmtpd reads lines by CRLF)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.login(SMTP_USERNAME, PASSWORD)
        client.sendmail(FROM, [TO], raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def test_a_mail_is_recorded_by_the_http_sink_at_its_smtp_arrival(http_sink: RunningSink) -> None:
    with httpx.Client(timeout=5) as http:
        recorder = HttpRecorder(http, http_sink.url, http_sink.credential)
        with smtp_receiver(recorder) as port:
            _send(port, ALERTMANAGER_MAIL.read_bytes())
    (item,) = http_sink.store.query(receiver="email")
    assert item["received_at_unix"] == 1_700_000_000.5
    assert item["title"] == "[FIRING:1] UsersServiceDown users (users critical)"
    assert item["payload"]["to"] == [TO]
    assert item["payload"]["text"].startswith("1 alert for alertname=UsersServiceDown")
    assert http_sink.store.query(status="firing", alertname="UsersServiceDown") == [item]


def test_a_recipient_is_refused_451_while_the_sink_is_down() -> None:
    """Alertmanager 0.25 retries a refused RCPT (it ignores the reply to the end of DATA)."""
    down = f"http://127.0.0.1:{free_port()}"
    with (
        httpx.Client(timeout=2) as http,
        smtp_receiver(HttpRecorder(http, down, CREDENTIAL)) as port,
        pytest.raises(smtplib.SMTPRecipientsRefused) as refused,
    ):
        _send(port, ALERTMANAGER_MAIL.read_bytes())
    code, text = refused.value.recipients[TO]
    assert code == 451
    assert f"GET {down}/healthz: ConnectError" in text.decode()


def test_a_mail_the_sink_does_not_take_is_refused_451_at_data() -> None:
    def sink(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(503, text="overloaded")

    with (
        httpx.Client(transport=httpx.MockTransport(sink)) as http,
        smtp_receiver(HttpRecorder(http, "http://sink.test:9095/", CREDENTIAL)) as port,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        _send(port, ALERTMANAGER_MAIL.read_bytes())
    assert refused.value.smtp_code == 451
    assert b"POST http://sink.test:9095/email: HTTP 503: overloaded" in refused.value.smtp_error


def test_the_recorder_posts_the_parsed_mail_with_its_arrival() -> None:
    posted: list[httpx.Request] = []

    def sink(request: httpx.Request) -> httpx.Response:
        posted.append(request)
        return httpx.Response(200, json={"recorded": True})

    message = EmailMessage()
    message["Subject"] = "[RESOLVED] NodeHighCPU (warning)"
    message["From"], message["To"] = FROM, TO
    message.set_content("resolved")
    with (
        httpx.Client(transport=httpx.MockTransport(sink)) as http,
        smtp_receiver(HttpRecorder(http, "http://sink.test:9095", CREDENTIAL), clock=12.25) as port,
    ):
        _send(port, message.as_bytes())
    health, record = posted
    assert (health.method, str(health.url)) == ("GET", "http://sink.test:9095/healthz")
    assert (record.method, str(record.url)) == ("POST", "http://sink.test:9095/email")
    assert "Authorization" not in health.headers  # reading needs no credential
    assert record.headers["Authorization"] == CREDENTIAL.bearer()
    assert httpx.Response(200, content=record.content).json() == {
        "received_at_unix": 12.25,
        "subject": "[RESOLVED] NodeHighCPU (warning)",
        "from": FROM,
        "to": [TO],
        "text": "resolved\n",
        "html": "",
        "message_id": "",
    }
