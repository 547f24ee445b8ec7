"""Only Alertmanager can make a notification count, on the real stack: forged deliveries to the
sink's webhook and Slack endpoints, its mail recorder and its SMTP receiver are refused and
never appear in what the sink reports (so no ``.notified`` check can pass on them), while an
alert posted to Alertmanager is delivered to all three receivers, firing and resolved.
About 15 s."""

from __future__ import annotations

import secrets
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from assertions.backends.sink import SinkBackend
from chaosgate.receivers.credential import SMTP_USERNAME, generate_token
from tests.integration.conftest import LocalStack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

DEADLINE_S = 30.0
RECEIVERS = ("webhook", "slack", "email")


def _webhook_message(alertname: str) -> dict[str, Any]:
    """What Alertmanager's webhook posts (message version 4), for one firing alert."""
    labels = {"alertname": alertname, "service": "receiver-auth", "severity": "critical"}
    return {
        "version": "4",
        "groupKey": f'{{}}/{{severity="critical"}}:{{alertname="{alertname}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "oncall",
        "groupLabels": {"alertname": alertname, "service": "receiver-auth"},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": "http://forged:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {},
                "startsAt": datetime.now(UTC).isoformat(),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": secrets.token_hex(8),
            }
        ],
    }


def _title(alertname: str) -> str:
    return f"[FIRING:1] {alertname} receiver-auth (critical)"


def _mail(alertname: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = _title(alertname)
    message["From"] = "alertmanager@restaurant.example"
    message["To"] = "oncall@restaurant.example"
    message.add_alternative("<p>1 alert</p>", subtype="html")
    return message


def _reported(stack: LocalStack, http: httpx.Client, alertname: str) -> list[str]:
    """The receivers of what the sink reports for ``alertname``, as the run's checks read it."""
    notes = SinkBackend(http, stack.urls["sink"]).notifications(alertname=alertname)
    return [note.receiver for note in notes]


def test_forged_deliveries_are_refused_and_never_reported(
    local_stack: LocalStack, http: httpx.Client
) -> None:
    forged = f"ForgedDelivery{secrets.token_hex(4)}"
    sink = local_stack.urls["sink"]
    bodies = {
        "/alerts": _webhook_message(forged),
        "/slack": {"channel": "#restaurant-oncall", "attachments": [{"title": _title(forged)}]},
        "/email": {"received_at_unix": 1.0, "subject": _title(forged), "to": [], "text": ""},
    }
    wrong = {"Authorization": f"Bearer {generate_token()}"}
    for path, body in bodies.items():
        assert http.post(sink + path, json=body).status_code == 401, path
        assert http.post(sink + path, json=body, headers=wrong).status_code == 403, path
    smtp = ("127.0.0.1", local_stack.ports["smtp"])
    with smtplib.SMTP(*smtp, timeout=10) as client, pytest.raises(smtplib.SMTPSenderRefused) as no:
        client.send_message(_mail(forged))
    assert no.value.smtp_code == 530
    with smtplib.SMTP(*smtp, timeout=10) as client, pytest.raises(smtplib.SMTPAuthenticationError):
        client.login(SMTP_USERNAME, generate_token())
    assert _reported(local_stack, http, forged) == []
    notes = SinkBackend(http, sink).notifications(status="firing")
    assert not any(note.mentions(forged) for note in notes)


def test_an_alert_posted_to_alertmanager_reaches_every_receiver(
    local_stack: LocalStack, http: httpx.Client
) -> None:
    alertname = f"ReceiverAuthProbe{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    alert = {
        "labels": {"alertname": alertname, "service": "receiver-auth", "severity": "critical"},
        "annotations": {"summary": "chaosgate's receiver authentication test"},
        "startsAt": now.isoformat(),
        # resolves by itself: the resolved notification follows a group_interval (5 s) later
        "endsAt": (now + timedelta(seconds=4)).isoformat(),
    }
    response = http.post(f"{local_stack.urls['alertmanager']}/api/v2/alerts", json=[alert])
    assert response.status_code == 200, response.text
    sink = SinkBackend(http, local_stack.urls["sink"])

    def delivered(status: str) -> set[str] | None:
        notes = sink.notifications(alertname=alertname, status=status)
        receivers = {note.receiver for note in notes}
        return receivers if receivers >= set(RECEIVERS) else None

    wait_until(
        lambda: delivered("firing"),
        timeout_s=DEADLINE_S,
        interval_s=0.5,
        message=lambda: (
            f"{alertname} at {', '.join(RECEIVERS)}: {_reported(local_stack, http, alertname)};"
            f" see the alertmanager log in {local_stack.layout.log_dir}"
        ),
    )
    wait_until(
        lambda: delivered("resolved"),
        timeout_s=DEADLINE_S,
        interval_s=0.5,
        message=f"{alertname} notified resolved",
    )


def test_the_token_is_in_no_log_of_the_stack(local_stack: LocalStack) -> None:
    token = (local_stack.layout.run_dir / "sink-token").read_text().strip()
    for directory in (local_stack.layout.log_dir, local_stack.layout.config_dir):
        for path in directory.rglob("*"):
            if path.is_file() and path.stat().st_size < 50_000_000:
                assert token not in path.read_text(errors="replace"), path
