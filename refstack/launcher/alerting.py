"""Alertmanager's configuration as the platform designs it: route tree, receivers, inhibitions.

The local stack (and ``stack up --k8s``, which renders the same file) points every receiver
at the sink (``chaosgate sink``): Slack at its ``/slack``, email at its SMTP receiver, the
webhook at its ``/alerts``. Every delivery carries the receivers' token
(:mod:`chaosgate.receivers.credential`), read from the file ``stack up`` generates: webhook
and Slack as ``http_config.authorization`` (``type: Bearer``, ``credentials_file``), email as
SMTP AUTH (``auth_username``, ``auth_password_file``; ``require_tls: false``, as Alertmanager
sends a PLAIN password unencrypted only to a loopback smarthost). The receivers refuse
anything without it, so only Alertmanager can make a notification count.
``manifests/alertmanager/alertmanager.yml`` is the same tree for a real deployment, with the
receivers' endpoints (and how each authenticates) a deployment replaces; a unit test keeps
the two equal except for those endpoints.

Routing: every alert is grouped by ``alertname`` and ``service``; ``severity="critical"`` goes
to ``oncall`` (Slack, email and the webhook, in one receiver), ``severity="warning"`` and
anything else to ``team-slack`` (Slack only). Every integration sends resolved notifications
(Slack's and email's default is not to). Timing, which the 30 s alert promise relies on:
``group_wait`` 1 s, ``group_interval`` 5 s (a resolved alert is notified within about 5 s of
Prometheus resolving it), ``repeat_interval`` 1 h. Slack titles and mail subjects keep
Alertmanager's default ``[FIRING:N] <group label values> (<common label values>)`` line:
chaosgate reads the status and the alertname from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chaosgate.receivers.credential import SMTP_USERNAME
from refstack.launcher.ports import HOST

__all__ = [
    "EMAIL_FROM",
    "EMAIL_TO",
    "INHIBIT_RULES",
    "ONCALL_CHANNEL",
    "TEAM_CHANNEL",
    "Endpoints",
    "alertmanager_config",
    "alertmanager_settings",
    "local_endpoints",
]

ONCALL_CHANNEL = "#restaurant-oncall"
TEAM_CHANNEL = "#restaurant-alerts"
EMAIL_TO = "oncall@restaurant.example"
EMAIL_FROM = "alertmanager@restaurant.example"

INHIBIT_RULES: tuple[Mapping[str, Any], ...] = (
    # a. a service that is down also fails every request sent to it: page for the outage,
    #    not for the error rate it causes on the same service
    {
        "source_matchers": ['alertname=~"UsersServiceDown|IoTServiceDown"'],
        "target_matchers": ['alertname=~"UsersServiceHighErrorRate|IoTServiceHighErrorRate"'],
        "equal": ["service"],
    },
    # b. an exhausted pool is the cause; connections piling up and orders failing on the same
    #    service are its symptoms
    {
        "source_matchers": ['alertname="DatabasePoolExhausted"'],
        "target_matchers": ['alertname=~"DatabaseTooManyConnections|OrderFailuresHigh"'],
        "equal": ["service"],
    },
    # c. a pod crash-looping restarts often by definition: one alert for one cause
    {
        "source_matchers": ['alertname="PodCrashLooping"'],
        "target_matchers": ['alertname="PodRestartingOften"'],
        "equal": ["service"],
    },
    # d. a downstream outage shows up at the gateway as errors, latency and failed calls;
    #    the gateway alerts carry service=gateway and the cause another service, so no
    #    `equal`: while a downstream cause pages, the gateway's symptoms are muted
    {
        "source_matchers": ['alertname=~"UsersServiceDown|IoTServiceDown|DatabasePoolExhausted"'],
        "target_matchers": [
            'alertname=~"GatewayHighErrorRate|GatewayHighLatency|NetworkHighErrorRate"'
        ],
    },
)
"""The inhibit rules; :func:`alertmanager_settings` gives each one's reason."""


@dataclass(frozen=True)
class Endpoints:
    """Where the receivers deliver and the file holding the token they require: what a
    deployment replaces (everything else is design)."""

    webhook_url: str
    slack_api_url: str
    smtp_smarthost: str
    smtp_require_tls: bool
    token_file: Path


def local_endpoints(ports: Mapping[str, int], token_file: Path) -> Endpoints:
    """The sink's receivers on loopback (no STARTTLS there, hence no TLS), authenticated with
    the token in ``token_file``."""
    sink = f"http://{HOST}:{ports['sink']}"
    return Endpoints(
        webhook_url=f"{sink}/alerts",
        slack_api_url=f"{sink}/slack",
        smtp_smarthost=f"{HOST}:{ports['smtp']}",
        smtp_require_tls=False,
        token_file=token_file,
    )


def _bearer(endpoints: Endpoints) -> dict[str, Any]:
    """``http_config`` sending ``Authorization: Bearer <the token file's content>``."""
    return {"authorization": {"type": "Bearer", "credentials_file": str(endpoints.token_file)}}


def _slack(endpoints: Endpoints, channel: str) -> dict[str, Any]:
    return {
        "api_url": endpoints.slack_api_url,
        "channel": channel,
        "send_resolved": True,
        "http_config": _bearer(endpoints),
    }


def alertmanager_settings(endpoints: Endpoints) -> dict[str, Any]:
    """The whole configuration as data: route tree, receivers at ``endpoints``, inhibitions.

    The inhibit rules (:data:`INHIBIT_RULES`) mute a symptom while its cause pages:

    a. ``UsersServiceDown|IoTServiceDown`` mutes
       ``UsersServiceHighErrorRate|IoTServiceHighErrorRate`` of the same ``service``: a
       service that is down fails every request sent to it.
    b. ``DatabasePoolExhausted`` mutes ``DatabaseTooManyConnections|OrderFailuresHigh`` of the
       same ``service``: the exhausted pool is the cause, connections piling up and failed
       orders its symptoms.
    c. ``PodCrashLooping`` mutes ``PodRestartingOften`` of the same ``service``: a
       crash-looping pod restarts often by definition.
    d. ``UsersServiceDown|IoTServiceDown|DatabasePoolExhausted`` mutes
       ``GatewayHighErrorRate|GatewayHighLatency|NetworkHighErrorRate`` with no ``equal``: the
       gateway's alerts carry ``service=gateway`` and the cause another service, and a
       downstream outage is what makes the gateway fail.
    """
    return {
        "route": {
            "receiver": "team-slack",
            "group_by": ["alertname", "service"],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "1h",
            "routes": [
                {"receiver": "oncall", "matchers": ['severity="critical"']},
                {"receiver": "team-slack", "matchers": ['severity="warning"']},
            ],
        },
        "receivers": [
            {
                "name": "oncall",
                "slack_configs": [_slack(endpoints, ONCALL_CHANNEL)],
                "email_configs": [
                    {
                        "to": EMAIL_TO,
                        "from": EMAIL_FROM,
                        "smarthost": endpoints.smtp_smarthost,
                        "require_tls": endpoints.smtp_require_tls,
                        "auth_username": SMTP_USERNAME,
                        "auth_password_file": str(endpoints.token_file),
                        "send_resolved": True,
                    }
                ],
                "webhook_configs": [
                    {
                        "url": endpoints.webhook_url,
                        "send_resolved": True,
                        "http_config": _bearer(endpoints),
                    }
                ],
            },
            {"name": "team-slack", "slack_configs": [_slack(endpoints, TEAM_CHANNEL)]},
        ],
        "inhibit_rules": [
            {key: list(value) for key, value in rule.items()} for rule in INHIBIT_RULES
        ],
    }


def alertmanager_config(ports: Mapping[str, int], token_file: Path) -> str:
    """The local stack's ``alertmanager.yml``: every receiver delivers to the sink, with the
    token in ``token_file`` (its path is in the file, never the token)."""
    settings = alertmanager_settings(local_endpoints(ports, token_file))
    return yaml.safe_dump(settings, sort_keys=False)
