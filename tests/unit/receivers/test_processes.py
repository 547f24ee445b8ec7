"""``chaosgate sink`` and ``chaosgate sink smtp`` as the stack starts them: two processes on
free ports; a mail sent to the second is recorded by the first, and a stopped HTTP sink makes
the SMTP receiver refuse mails until it is back."""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from tests.unit.receivers.conftest import free_port

T = TypeVar("T")
START_TIMEOUT_S = 30.0


@contextmanager
def running(*args: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "chaosgate", *args], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def eventually(probe: Callable[[], T], what: str, log: Path) -> T:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            return probe()
        except (OSError, httpx.HTTPError, smtplib.SMTPException) as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"{what} not up after {START_TIMEOUT_S} s ({exc}): {log.read_text()}")
            time.sleep(0.2)


def _mail(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "alertmanager@restaurant.example"
    message["To"] = "oncall@restaurant.example"
    message.add_alternative("<p>1 alert</p>", subtype="html")
    return message


def test_the_smtp_receiver_records_through_the_http_sink(tmp_path: Path) -> None:
    http_port, smtp_port = free_port(), free_port()
    sink_url = f"http://127.0.0.1:{http_port}"
    out = tmp_path / "notifications.jsonl"
    sink_args = ("sink", "--host", "127.0.0.1", "--port", str(http_port), "--out", str(out))
    smtp_args = ("sink", "smtp", "--port", str(smtp_port), "--sink-url", sink_url)
    sink_log, smtp_log = tmp_path / "sink.log", tmp_path / "smtp.log"

    def send(subject: str) -> None:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.send_message(_mail(subject))

    with httpx.Client(timeout=5) as http, running(*smtp_args, log=smtp_log):
        with running(*sink_args, log=sink_log):
            eventually(lambda: http.get(f"{sink_url}/healthz").raise_for_status(), "sink", sink_log)
            eventually(lambda: send("[FIRING:1] UsersServiceDown users"), "smtp", smtp_log)
            answer = http.get(f"{sink_url}/notifications", params={"receiver": "email"}).json()
        (item,) = answer["notifications"]
        assert item["title"] == "[FIRING:1] UsersServiceDown users"
        assert item["payload"]["text"] == "1 alert"
        # the HTTP sink is stopped: the mail is refused for now (Alertmanager retries)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            send("[RESOLVED] UsersServiceDown users")
        assert refused.value.recipients["oncall@restaurant.example"][0] == 451
        with running(*sink_args, log=sink_log):  # back, reloading its record
            eventually(lambda: send("[RESOLVED] UsersServiceDown users"), "sink again", sink_log)
            answer = http.get(f"{sink_url}/notifications", params={"status": "resolved"}).json()
        assert [item["receiver"] for item in answer["notifications"]] == ["email"]
    assert "answering 451" in smtp_log.read_text()
    assert len(out.read_text().splitlines()) == 2
