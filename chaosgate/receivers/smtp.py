"""The sink's SMTP side: a real SMTP server (aiosmtpd) that hands each mail to the recorder.

Alertmanager's ``email_configs`` deliver here (``smarthost: 127.0.0.1:<smtp>``,
``require_tls: false``: there is no STARTTLS on loopback) after SMTP AUTH as
:data:`~chaosgate.receivers.credential.SMTP_USERNAME` with the receivers' token as password
(``auth_username`` / ``auth_password_file``), by AUTH PLAIN, the one mechanism offered.
AUTH is required before ``MAIL`` (530 otherwise) and allowed without TLS
(``auth_require_tls=False``): Alertmanager's PLAIN authentication (Go's ``net/smtp``) sends
its password unencrypted only to a smarthost named ``localhost``, ``127.0.0.1`` or ``::1``,
which is what the local stack uses; a wrong login or password is 535. A mail over
:data:`MAX_MAIL_BYTES` is refused 552 (aiosmtpd), one without a Subject 554.

Each mail is stamped with its arrival time, parsed (:mod:`chaosgate.receivers.mail`) and
posted with the token to the HTTP side's ``POST /email``, which records it (receiver
``email``). While the HTTP side cannot take it the SMTP transaction is answered ``451`` (a
temporary error), so Alertmanager retries and nothing is lost while the recorder is down
(:class:`RecordingHandler` says where). It runs as its own process (the stack's part
``smtp``) so a test can stop it alone.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
import warnings
from collections.abc import Mapping
from typing import Any, Protocol

import httpx
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from chaosgate.http_clients import new_http_client
from chaosgate.receivers.credential import SMTP_USERNAME, Credential
from chaosgate.receivers.mail import parse_mail
from chaosgate.vocabulary import Clock

__all__ = [
    "MAX_MAIL_BYTES",
    "DeliveryError",
    "HttpRecorder",
    "Recorder",
    "RecordingHandler",
    "TokenAuthenticator",
    "serve_smtp",
    "smtp_options",
]

# Alertmanager's mails are tens of kB; the parsed mail (HTML and its text) must still fit
# the HTTP sink's 1 MiB body bound (chaosgate.receivers.http.MAX_BODY_BYTES)
MAX_MAIL_BYTES = 256 * 1024


class DeliveryError(Exception):
    """The recorder cannot take a mail."""


class Recorder(Protocol):
    """Where the SMTP receiver hands its mails (blocking calls, run on a worker thread)."""

    def ready(self) -> None:
        """Raise :class:`DeliveryError` unless a mail could be recorded now."""

    def record(self, mail: Mapping[str, Any]) -> None:
        """Record one parsed mail or raise :class:`DeliveryError`."""


class HttpRecorder:
    """The HTTP sink at ``sink_url``: ``GET /healthz`` says it is up, ``POST /email`` records
    (with ``credential``, as every delivery to it)."""

    def __init__(self, client: httpx.Client, sink_url: str, credential: Credential) -> None:
        self._client = client
        self._credential = credential
        self.sink_url = sink_url.rstrip("/")

    def ready(self) -> None:
        self._send("GET", "/healthz", None)

    def record(self, mail: Mapping[str, Any]) -> None:
        self._send("POST", "/email", dict(mail))

    def _send(self, method: str, path: str, body: Any) -> None:
        url = self.sink_url + path
        headers = {"Authorization": self._credential.bearer()} if method == "POST" else {}
        try:
            response = self._client.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            excerpt = " ".join(response.text.split())[:200]
            raise DeliveryError(f"{method} {url}: HTTP {response.status_code}: {excerpt}")


class TokenAuthenticator:
    """aiosmtpd authenticator: :data:`SMTP_USERNAME` with the token as password."""

    def __init__(self, credential: Credential) -> None:
        self._credential = credential

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login_ok = auth_data.login == SMTP_USERNAME.encode()
        password_ok = self._credential.matches(auth_data.password)
        return AuthResult(success=login_ok and password_ok, handled=False)


class _NotPlainAuthWarning(logging.Filter):
    """Drops aiosmtpd's log lines about AUTH without TLS (one per connection) and about the
    deprecated ``Session.login_data`` (which its own AUTH code sets at every login)."""

    _MESSAGES = ("auth_require_tls == False", "Session.login_data is deprecated")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self._MESSAGES)


_PLAIN_AUTH_FILTER = _NotPlainAuthWarning()


def _accept_auth_without_tls() -> None:
    """AUTH on plain TCP is this receiver's design (loopback, no STARTTLS), not an accident:
    aiosmtpd's warning and log line about it, repeated per connection, are silenced."""
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logger = logging.getLogger("mail.log")
    if _PLAIN_AUTH_FILTER not in logger.filters:
        logger.addFilter(_PLAIN_AUTH_FILTER)


def smtp_options(credential: Credential) -> dict[str, Any]:
    """The ``aiosmtpd.smtp.SMTP`` keywords of the receiver: AUTH required, allowed on plain
    TCP, checked against ``credential``; mails bounded by :data:`MAX_MAIL_BYTES`."""
    _accept_auth_without_tls()
    return {
        "auth_required": True,
        "auth_require_tls": False,
        "authenticator": TokenAuthenticator(credential),
        # PLAIN only: Alertmanager 0.25 picks the first mechanism offered, and its LOGIN
        # expects the challenges "Username:" / "Password:" where aiosmtpd sends "User Name"
        # ("*email.loginAuth auth: unexpected server challenge", seen on Debian's 0.25)
        "auth_exclude_mechanism": ["LOGIN"],
        "data_size_limit": MAX_MAIL_BYTES,
    }


def _temporary_failure(exc: DeliveryError) -> str:
    """A 451 reply (one line: an SMTP reply here cannot span lines)."""
    reason = " ".join(str(exc).split())
    print(f"chaosgate sink smtp: answering 451: {reason}", file=sys.stderr, flush=True)
    return f"451 4.3.0 the mail cannot be recorded now ({reason}); try again later"


class RecordingHandler:
    """aiosmtpd handler: refuses recipients with 451 while the recorder is down, and records
    every mail's DATA (stamped with its arrival, parsed) or refuses it with 451 (554 when it
    has no Subject: no notification).

    Why two checks: Alertmanager before 0.28 ignores the reply to the end of DATA
    (prometheus/alertmanager#4005), so Debian's 0.25 would count a mail refused there as
    sent; a refused RCPT it does retry. The DATA refusal covers a recorder that fails between
    the two, for clients that read it. ``clock`` stamps the arrival (when DATA's content
    arrived).
    """

    def __init__(self, recorder: Recorder, *, clock: Clock = time.time) -> None:
        self._recorder = recorder
        self._clock = clock

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._recorder.ready)
        except DeliveryError as exc:
            return _temporary_failure(exc)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        received_at = self._clock()
        raw = envelope.original_content or b""
        parsed = parse_mail(raw)
        if not parsed.subject:
            return "554 5.6.0 not an Alertmanager notification: the mail has no Subject"
        mail = {"received_at_unix": received_at, **parsed.payload()}
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._recorder.record, mail)
        except DeliveryError as exc:
            return _temporary_failure(exc)
        return "250 OK recorded"


async def _serve(
    handler: RecordingHandler, host: str, port: int, sink_url: str, credential: Credential
) -> None:
    loop = asyncio.get_running_loop()
    options = smtp_options(credential)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="chaosgate-sink", ident="chaosgate sink smtp", **options),
        host,
        port,
    )
    print(
        f"chaosgate sink smtp listening on smtp://{host}:{port} (recording at {sink_url}; "
        f"AUTH as {SMTP_USERNAME} with the token from {credential.source})",
        flush=True,
    )
    async with server:
        await server.serve_forever()


def serve_smtp(
    host: str, port: int, sink_url: str, credential: Credential, *, timeout_s: float = 5.0
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM end the process), recording at ``sink_url``
    (the HTTP sink's base URL)."""
    with new_http_client(httpx.Timeout(timeout_s)) as client:
        recorder = HttpRecorder(client, sink_url, credential)
        handler = RecordingHandler(recorder)
        asyncio.run(_serve(handler, host, port, recorder.sink_url, credential))
