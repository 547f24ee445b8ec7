"""The sink's SMTP side: a real SMTP server (aiosmtpd) that hands each mail to the recorder.

Alertmanager's ``email_configs`` deliver here (``smarthost: 127.0.0.1:<smtp>``,
``require_tls: false``: there is no STARTTLS on loopback). Each mail is stamped with its
arrival time, parsed (:mod:`chaosgate.receivers.mail`) and posted to the HTTP side's
``POST /email``, which records it (receiver ``email``). While the HTTP side cannot take it
the SMTP transaction is answered ``451`` (a temporary error), so Alertmanager retries and
nothing is lost while the recorder is down (:class:`RecordingHandler` says where). It runs
as its own process (the stack's part ``smtp``) so a test can stop it alone.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
from aiosmtpd.smtp import SMTP, Envelope, Session

from chaosgate.receivers.mail import parse_mail

__all__ = ["DeliveryError", "HttpRecorder", "Recorder", "RecordingHandler", "serve_smtp"]


class DeliveryError(Exception):
    """The recorder cannot take a mail."""


class Recorder(Protocol):
    """Where the SMTP receiver hands its mails (blocking calls, run on a worker thread)."""

    def ready(self) -> None:
        """Raise :class:`DeliveryError` unless a mail could be recorded now."""

    def record(self, mail: Mapping[str, Any]) -> None:
        """Record one parsed mail or raise :class:`DeliveryError`."""


class HttpRecorder:
    """The HTTP sink at ``sink_url``: ``GET /healthz`` says it is up, ``POST /email`` records."""

    def __init__(self, client: httpx.Client, sink_url: str) -> None:
        self._client = client
        self.sink_url = sink_url.rstrip("/")

    def ready(self) -> None:
        self._send("GET", "/healthz", None)

    def record(self, mail: Mapping[str, Any]) -> None:
        self._send("POST", "/email", dict(mail))

    def _send(self, method: str, path: str, body: Any) -> None:
        url = self.sink_url + path
        try:
            response = self._client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            excerpt = " ".join(response.text.split())[:200]
            raise DeliveryError(f"{method} {url}: HTTP {response.status_code}: {excerpt}")


def _temporary_failure(exc: DeliveryError) -> str:
    """A 451 reply (one line: an SMTP reply here cannot span lines)."""
    reason = " ".join(str(exc).split())
    print(f"chaosgate sink smtp: answering 451: {reason}", file=sys.stderr, flush=True)
    return f"451 4.3.0 the mail cannot be recorded now ({reason}); try again later"


class RecordingHandler:
    """aiosmtpd handler: refuses recipients with 451 while the recorder is down, and records
    every mail's DATA (stamped with its arrival, parsed) or refuses it with 451.

    Why two checks: Alertmanager before 0.28 ignores the reply to the end of DATA
    (prometheus/alertmanager#4005), so Debian's 0.25 would count a mail refused there as
    sent; a refused RCPT it does retry. The DATA refusal covers a recorder that fails between
    the two, for clients that read it. ``clock`` stamps the arrival (when DATA's content
    arrived).
    """

    def __init__(self, recorder: Recorder, *, clock: Callable[[], float] = time.time) -> None:
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
        mail = {"received_at_unix": received_at, **parse_mail(raw).payload()}
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, self._recorder.record, mail)
        except DeliveryError as exc:
            return _temporary_failure(exc)
        return "250 OK recorded"


async def _serve(handler: RecordingHandler, host: str, port: int, sink_url: str) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="chaosgate-sink", ident="chaosgate sink smtp"), host, port
    )
    print(
        f"chaosgate sink smtp listening on smtp://{host}:{port} (recording at {sink_url})",
        flush=True,
    )
    async with server:
        await server.serve_forever()


def serve_smtp(host: str, port: int, sink_url: str, *, timeout_s: float = 5.0) -> None:
    """Serve until interrupted (SIGINT/SIGTERM end the process), recording at ``sink_url``
    (the HTTP sink's base URL)."""
    with httpx.Client(timeout=httpx.Timeout(timeout_s)) as client:
        recorder = HttpRecorder(client, sink_url)
        asyncio.run(_serve(RecordingHandler(recorder), host, port, recorder.sink_url))
