"""``chaosgate sink`` and ``chaosgate sink smtp`` as the stack starts them: two processes on
free ports sharing a token file; a mail sent to the second (after AUTH) is recorded by the
first, a stopped HTTP sink makes the SMTP receiver refuse mails until it is back, and the
token is in no output. Without a credential neither starts."""

from __future__ import annotations

import os
import smtplib
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from chaosgate.receivers.credential import SMTP_USERNAME, TOKEN_ENV, write_token_file
from tests.support.waiting import wait_until
from tests.unit.receivers.conftest import free_port, recorded_body

pytestmark = pytest.mark.processes  # real programs for seconds each

START_TIMEOUT_S = 30.0


@contextmanager
def running(*args: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "chaosgate", *args], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


def eventually(probe: Callable[[], object], what: str, log: Path) -> None:
    """Retry ``probe`` while it fails to connect or is refused (the process is starting)."""

    def answered() -> bool:
        probe()
        return True

    wait_until(
        answered,
        timeout_s=START_TIMEOUT_S,
        interval_s=0.2,
        ignoring=(OSError, httpx.HTTPError, smtplib.SMTPException),
        message=lambda: f"{what} up; its log: {log.read_text()}",
    )


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
    token_file = write_token_file(tmp_path / "run" / "sink-token")
    token = token_file.read_text()
    sink_args = (
        "sink", "--host", "127.0.0.1", "--port", str(http_port), "--out", str(out),
        "--token-file", str(token_file),
    )  # fmt: skip
    smtp_args = (
        "sink", "smtp", "--port", str(smtp_port), "--sink-url", sink_url,
        "--token-file", str(token_file),
    )  # fmt: skip
    sink_log, smtp_log = tmp_path / "sink.log", tmp_path / "smtp.log"

    def send(subject: str) -> None:
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client:
            client.login(SMTP_USERNAME, token)
            client.send_message(_mail(subject))

    with httpx.Client(timeout=5) as http, running(*smtp_args, log=smtp_log):
        with running(*sink_args, log=sink_log):
            eventually(lambda: http.get(f"{sink_url}/healthz").raise_for_status(), "sink", sink_log)
            eventually(lambda: send("[FIRING:1] UsersServiceDown users"), "smtp", smtp_log)
            forged = http.post(f"{sink_url}/alerts", json=recorded_body("webhook"))
            assert forged.status_code == 401
            with (
                smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as client,
                pytest.raises(smtplib.SMTPSenderRefused),
            ):
                client.send_message(_mail("[FIRING:1] Forged users"))
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
    for log in (sink_log, smtp_log, out):
        assert token not in log.read_text(), f"the token is in {log.name}"
    assert str(token_file) in sink_log.read_text()  # where it came from is said


@pytest.mark.parametrize("args", [("sink",), ("sink", "smtp")], ids=["sink", "smtp"])
def test_neither_receiver_starts_without_a_credential(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    env = {key: value for key, value in os.environ.items() if key != TOKEN_ENV}
    port = ("--port", str(free_port()))
    missing = tmp_path / "missing-token"
    for extra, wanted in (
        ((), f"give --token-file FILE or set {TOKEN_ENV}"),
        (("--token-file", str(missing)), f"cannot open the token file '{missing}'"),
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "chaosgate", *args, *port, *extra],
            capture_output=True, text=True, env=env, timeout=60, check=False,
        )  # fmt: skip
        assert proc.returncode == 2, proc.stderr
        (line,) = proc.stderr.splitlines()
        assert line.startswith("chaosgate: error: ") and wanted in line, line
