"""Only Alertmanager's credential makes a delivery count: the receivers for real on free
loopback ports (werkzeug's server via httpx, aiosmtpd via smtplib), each refusal asserted on
its status and on the record, and each receiver still serving afterwards."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from assertions.backends.sink import SinkBackend
from chaosgate.http_clients import new_http_client
from chaosgate.receivers.credential import SMTP_USERNAME, Credential, generate_token
from chaosgate.receivers.http import MAX_BODY_BYTES
from chaosgate.receivers.smtp import MAX_MAIL_BYTES, HttpRecorder, RecordingHandler, smtp_options
from tests.unit.receivers.conftest import RunningSink, free_port, recorded_body

MAIL = {
    "received_at_unix": 1_700_000_000.25,
    "subject": "[FIRING:1] UsersServiceDown users (critical)",
    "from": "alertmanager@restaurant.example",
    "to": ["oncall@restaurant.example"],
    "text": "1 alert",
    "html": "<p>1 alert</p>",
    "message_id": "<1@vm>",
}
# path -> (a body Alertmanager sends there, the receiver it is recorded as)
DELIVERIES: dict[str, tuple[dict[str, Any], str]] = {
    "/alerts": (recorded_body("webhook"), "webhook"),
    "/slack": (recorded_body("slack"), "slack"),
    "/email": (MAIL, "email"),
}
PATHS = list(DELIVERIES)
FROM, TO = "alertmanager@restaurant.example", "oncall@restaurant.example"


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with new_http_client(10) as client:
        yield client


def _recorded(sink: RunningSink) -> list[str]:
    return [item["receiver"] for item in sink.store.query()]


def _deliver_for_real(sink: RunningSink, http: httpx.Client, path: str) -> None:
    """The receiver still serves: a delivery with the credential is recorded."""
    body, receiver = DELIVERIES[path]
    before = len(sink.store.query(receiver=receiver))
    response = http.post(sink.url + path, json=body, headers=sink.auth)
    assert response.status_code == 200, response.text
    assert len(sink.store.query(receiver=receiver)) == before + 1


@pytest.mark.parametrize("path", PATHS)
def test_a_delivery_with_the_credential_is_recorded(
    http_sink: RunningSink, http: httpx.Client, path: str
) -> None:
    body, receiver = DELIVERIES[path]
    response = http.post(http_sink.url + path, json=body, headers=http_sink.auth)
    assert response.status_code == 200
    assert _recorded(http_sink) == [receiver]


@pytest.mark.parametrize("path", PATHS)
def test_a_delivery_without_a_credential_is_401_and_not_recorded(
    http_sink: RunningSink, http: httpx.Client, path: str
) -> None:
    body, _ = DELIVERIES[path]
    response = http.post(http_sink.url + path, json=body)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _recorded(http_sink) == []
    _deliver_for_real(http_sink, http, path)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {generate_token()}",
        "Bearer",
        "Basic YWxlcnRtYW5hZ2VyOnNlY3JldA==",
        "{token}x",
        "Bearer {token}x",
        "Bearer {prefix}",
    ],
    ids=["another-token", "empty-token", "basic", "no-scheme", "longer", "prefix"],
)
def test_a_delivery_with_a_wrong_credential_is_403_and_not_recorded(
    http_sink: RunningSink, http: httpx.Client, path: str, header: str
) -> None:
    token = http_sink.credential.bearer().removeprefix("Bearer ")
    authorization = header.format(token=token, prefix=token[:-1])
    body, _ = DELIVERIES[path]
    response = http.post(http_sink.url + path, json=body, headers={"Authorization": authorization})
    assert response.status_code == 403
    assert token not in response.text
    assert _recorded(http_sink) == []
    _deliver_for_real(http_sink, http, path)


@pytest.mark.parametrize("path", PATHS)
def test_an_oversized_delivery_is_413_and_not_recorded(
    http_sink: RunningSink, http: httpx.Client, path: str
) -> None:
    body, _ = DELIVERIES[path]
    padded = {**body, "padding": "x" * MAX_BODY_BYTES}
    response = http.post(http_sink.url + path, json=padded, headers=http_sink.auth)
    assert response.status_code == 413
    assert _recorded(http_sink) == []

    def chunks() -> Iterator[bytes]:  # no Content-Length: the bound holds while reading
        yield b'{"padding": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 1):
            yield b"x" * 65536
        yield b'"}'

    streamed = http.post(
        http_sink.url + path,
        content=chunks(),
        headers={**http_sink.auth, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert _recorded(http_sink) == []
    _deliver_for_real(http_sink, http, path)


def test_an_oversized_delivery_without_a_credential_is_401(
    http_sink: RunningSink, http: httpx.Client
) -> None:
    """The credential is checked first: a stranger's body is never parsed."""
    response = http.post(http_sink.url + "/alerts", content=b"x" * (2 * MAX_BODY_BYTES))
    assert response.status_code == 401
    assert _recorded(http_sink) == []


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "content", [b"not json", b"[1, 2]", b'{"status": "firing"}', b"\xff\xfe"],
    ids=["text", "list", "partial", "binary"],
)  # fmt: skip
def test_a_malformed_delivery_is_400_and_not_recorded(
    http_sink: RunningSink, http: httpx.Client, path: str, content: bytes
) -> None:
    headers = {**http_sink.auth, "Content-Type": "application/json"}
    response = http.post(http_sink.url + path, content=content, headers=headers)
    assert response.status_code == 400
    assert _recorded(http_sink) == []
    _deliver_for_real(http_sink, http, path)


def test_reading_needs_no_credential_and_sees_only_what_counted(
    http_sink: RunningSink, http: httpx.Client
) -> None:
    for path, (body, _) in DELIVERIES.items():
        assert http.post(http_sink.url + path, json=body).status_code == 401
        assert http.post(http_sink.url + path, json=body, headers=http_sink.auth).is_success
    backend = SinkBackend(http, http_sink.url)  # what the run's checks read
    notes = backend.notifications(alertname="UsersServiceDown", status="firing")
    assert [note.receiver for note in notes] == ["webhook", "slack", "email"]
    assert all(note.mentions("UsersServiceDown") for note in notes)


# --- SMTP: AUTH PLAIN on plain TCP, required before MAIL ---


@contextmanager
def smtp_receiver(sink: RunningSink, http: httpx.Client) -> Iterator[int]:
    port = free_port()
    recorder = HttpRecorder(http, sink.url, sink.credential)
    controller = Controller(
        RecordingHandler(recorder), hostname="127.0.0.1", port=port,
        **smtp_options(sink.credential),
    )  # fmt: skip
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _mail(subject: str | None = "[FIRING:1] UsersServiceDown users (critical)") -> EmailMessage:
    message = EmailMessage()
    if subject is not None:
        message["Subject"] = subject
    message["From"], message["To"] = FROM, TO
    message.add_alternative("<p>1 alert</p>", subtype="html")
    return message


def _send(port: int, message: EmailMessage, login: tuple[str, str] | None) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        if login is not None:
            client.login(*login)
        client.send_message(message)


def _token(sink: RunningSink) -> str:
    return sink.credential.bearer().removeprefix("Bearer ")


def _mails(sink: RunningSink) -> list[dict[str, Any]]:
    return sink.store.query(receiver="email")


def test_a_mail_after_auth_with_the_token_is_recorded(
    http_sink: RunningSink, http: httpx.Client
) -> None:
    with smtp_receiver(http_sink, http) as port:
        _send(port, _mail(), (SMTP_USERNAME, _token(http_sink)))
    (item,) = _mails(http_sink)
    assert item["title"] == "[FIRING:1] UsersServiceDown users (critical)"


def test_only_auth_plain_is_offered_and_without_tls(
    http_sink: RunningSink, http: httpx.Client
) -> None:
    with smtp_receiver(http_sink, http) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        assert client.esmtp_features["auth"].split() == ["PLAIN"]
        assert "starttls" not in client.esmtp_features
        assert client.noop()[0] == 250  # the stack's health check needs no AUTH


def test_a_mail_without_auth_is_530_and_not_recorded(
    http_sink: RunningSink, http: httpx.Client
) -> None:
    with smtp_receiver(http_sink, http) as port:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            _send(port, _mail(), None)
        assert refused.value.smtp_code == 530
        assert _mails(http_sink) == []
        _send(port, _mail(), (SMTP_USERNAME, _token(http_sink)))  # still serving
    assert len(_mails(http_sink)) == 1


@pytest.mark.parametrize(
    "login",
    [
        (SMTP_USERNAME, generate_token()),
        (SMTP_USERNAME, ""),
        ("postmaster", "{token}"),
        (SMTP_USERNAME, "{token}x"),
    ],
    ids=["another-token", "empty", "other-user", "longer"],
)
def test_a_mail_with_a_wrong_login_is_535_and_not_recorded(
    http_sink: RunningSink, http: httpx.Client, login: tuple[str, str]
) -> None:
    user, password = login[0], login[1].format(token=_token(http_sink))
    with smtp_receiver(http_sink, http) as port:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            _send(port, _mail(), (user, password))
        assert refused.value.smtp_code == 535
        assert _token(http_sink).encode() not in refused.value.smtp_error
        assert _mails(http_sink) == []
        _send(port, _mail(), (SMTP_USERNAME, _token(http_sink)))
    assert len(_mails(http_sink)) == 1


def test_an_oversized_mail_is_552_and_not_recorded(
    http_sink: RunningSink, http: httpx.Client
) -> None:
    big = _mail()
    big.add_attachment(b"x" * MAX_MAIL_BYTES, maintype="application", subtype="octet-stream")
    with smtp_receiver(http_sink, http) as port:
        with pytest.raises(smtplib.SMTPResponseException) as refused:
            _send(port, big, (SMTP_USERNAME, _token(http_sink)))
        assert refused.value.smtp_code == 552
        assert _mails(http_sink) == []
        _send(port, _mail(), (SMTP_USERNAME, _token(http_sink)))
    assert len(_mails(http_sink)) == 1


def test_a_mail_without_a_subject_is_554_and_not_recorded(
    http_sink: RunningSink, http: httpx.Client
) -> None:
    with smtp_receiver(http_sink, http) as port:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(port, _mail(subject=None), (SMTP_USERNAME, _token(http_sink)))
        assert refused.value.smtp_code == 554
        assert _mails(http_sink) == []
        _send(port, _mail(), (SMTP_USERNAME, _token(http_sink)))
    assert len(_mails(http_sink)) == 1


def test_the_smtp_receiver_hands_mails_on_only_with_the_token(
    http_sink: RunningSink, http: httpx.Client
) -> None:
    """One whose token differs from the sink's gets 403 there: the mail is refused 451 (the
    recorder may be fixed), nothing is recorded, and the token is not in the reply."""
    other = Credential(source="test", _token=generate_token())
    port = free_port()
    recorder = HttpRecorder(http, http_sink.url, http_sink.credential)
    wrong = HttpRecorder(http, http_sink.url, other)
    controller = Controller(
        RecordingHandler(wrong), hostname="127.0.0.1", port=port, **smtp_options(other)
    )
    controller.start()
    try:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(port, _mail(), (SMTP_USERNAME, other.bearer().removeprefix("Bearer ")))
    finally:
        controller.stop()
    assert refused.value.smtp_code == 451
    assert b"HTTP 403" in refused.value.smtp_error
    assert other.bearer().removeprefix("Bearer ").encode() not in refused.value.smtp_error
    assert _mails(http_sink) == []
    recorder.record(MAIL)  # the right one is taken
    assert len(_mails(http_sink)) == 1
