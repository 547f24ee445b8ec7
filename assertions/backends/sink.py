"""The notification sink (``chaosgate sink``): what Alertmanager's webhook, Slack and email
integrations delivered to it, and when."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from assertions.backends._http import join_url, request_json
from assertions.backends.errors import BackendError

__all__ = ["INTEGRATIONS", "Notification", "SinkBackend", "title_tokens"]

NAME = "sink"


INTEGRATIONS = ("webhook", "slack", "email")
# Alertmanager's default Slack title and mail subject: "[FIRING:2] ..." or "[RESOLVED] ..."
_TITLE_PREFIX = re.compile(r"^\[(?P<status>FIRING|RESOLVED)(?::(?P<count>\d+))?\]")


def title_tokens(title: str) -> frozenset[str]:
    """The whitespace-separated words of a Slack title or mail subject, parentheses dropped
    (Alertmanager puts the labels common to a group's alerts in them)."""
    return frozenset(title.replace("(", " ").replace(")", " ").split())


@dataclass(frozen=True)
class Notification:
    """One notification a receiver recorded, as Alertmanager sent it.

    ``receiver`` is the integration that delivered it: ``webhook`` (``payload`` is the
    webhook body, with every alert's labels and status), ``slack`` (``payload`` is the
    ``slack_configs`` POST body; ``title`` its first attachment's title) or ``email``
    (``title`` is the Subject; ``payload`` holds ``subject``, ``from``, ``to`` (a list),
    ``text`` (the plain part, or the HTML part's text), ``html`` and ``message_id``).
    Slack titles and mail subjects are Alertmanager's default ``[FIRING:N] <group label
    values> (<common label values>)`` line, so ``status`` and the names they carry are read
    from it.
    """

    received_at_unix: float
    payload: Mapping[str, Any]
    receiver: str = "webhook"
    title: str = ""

    @property
    def status(self) -> str:
        """``firing`` / ``resolved`` (the webhook's ``status``, else the title's prefix); ""
        when neither says."""
        if self.receiver == "webhook":
            status = self.payload.get("status")
            return status if status in ("firing", "resolved") else ""
        match = _TITLE_PREFIX.match(self.title)
        return match.group("status").lower() if match else ""

    @property
    def firing_count(self) -> int | None:
        """How many alerts it reports firing (the webhook's alerts, or ``[FIRING:N]``)."""
        if self.receiver == "webhook":
            return sum(1 for alert in self.alerts() if alert.get("status") == "firing")
        match = _TITLE_PREFIX.match(self.title)
        if match is None:
            return None
        return int(match.group("count")) if match.group("count") else 0

    def mentions(
        self,
        alertname: str,
        labels: Mapping[str, str] | None = None,
        label_patterns: Mapping[str, str] | None = None,
        status: str = "firing",
    ) -> bool:
        """Whether this notification reports ``alertname`` (with these labels) in ``status``.

        Webhook: one of its alerts, by that alert's own status (a firing payload may carry
        alerts of its group that resolved). Slack and email: the notification's status, and
        the alertname and every value of ``labels`` are whitespace-separated tokens of the
        title; Alertmanager's default title lists the group labels' values and, in
        parentheses, the labels common to all its alerts, so a label that differs between
        the alerts of one notification cannot be seen there (``label_patterns`` are ignored).
        """
        labels = labels or {}
        if self.receiver == "webhook":
            patterns = label_patterns or {}
            for alert in self.alerts():
                alert_labels = alert.get("labels")
                if alert.get("status") != status or not isinstance(alert_labels, dict):
                    continue
                if (
                    alert_labels.get("alertname") == alertname
                    and all(alert_labels.get(k) == v for k, v in labels.items())
                    and all(
                        re.fullmatch(p, str(alert_labels.get(k, ""))) is not None
                        for k, p in patterns.items()
                    )
                ):
                    return True
            return False
        if self.status != status:
            return False
        tokens = title_tokens(self.title)
        return alertname in tokens and all(value in tokens for value in labels.values())

    def alerts(self) -> Iterator[Mapping[str, Any]]:
        """The payload's alerts (each with ``status``, ``labels``, ``startsAt``...); a
        webhook notification's only (Slack and email carry text, not alerts)."""
        if self.receiver != "webhook":
            return
        for alert in self.payload.get("alerts") or []:
            if isinstance(alert, dict):
                yield alert


class SinkBackend:
    """The sink at ``url``."""

    name = NAME

    def __init__(self, client: httpx.Client, url: str) -> None:
        self._client = client
        self._url = join_url(url, "/notifications")

    @property
    def url(self) -> str:
        return self._url

    def notifications(
        self,
        *,
        receiver: str | None = None,
        alertname: str | None = None,
        status: str | None = None,
    ) -> list[Notification]:
        """Recorded notifications, oldest first; every filter optional: ``receiver`` one of
        :data:`INTEGRATIONS`, ``status`` firing or resolved, ``alertname`` (a webhook alert's
        label, or a word of a Slack title / mail subject)."""
        if receiver is not None and receiver not in INTEGRATIONS:
            raise ValueError(
                f"unknown receiver {receiver!r}; give one of {', '.join(INTEGRATIONS)} or None"
            )
        if status is not None and status not in ("firing", "resolved"):
            raise ValueError(f"unknown status {status!r}; give firing, resolved or None")
        params = {
            key: value
            for key, value in (("receiver", receiver), ("alertname", alertname), ("status", status))
            if value is not None
        }
        body = request_json(self._client, NAME, "GET", self._url, params=params)
        try:
            items = body["notifications"]
            if not isinstance(items, list):
                raise TypeError("'notifications' is not a list")
            return [_notification(item) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(
                NAME, self._url, f"malformed answer: {type(exc).__name__}: {exc}"
            ) from exc


def _notification(item: Any) -> Notification:
    """One record of the sink; one written before it had receivers is a webhook's."""
    received = item["received_at_unix"]
    if isinstance(received, bool) or not isinstance(received, int | float):
        raise TypeError(f"received_at_unix {received!r} is not a number")
    payload = item["payload"]
    if not isinstance(payload, dict):
        raise TypeError("'payload' is not an object")
    receiver = item.get("receiver", "webhook")
    if receiver not in INTEGRATIONS:
        raise ValueError(f"receiver {receiver!r} is not one of {', '.join(INTEGRATIONS)}")
    title = item.get("title", "")
    if not isinstance(title, str):
        raise TypeError(f"title {title!r} is not a string")
    alerts = payload.get("alerts", [])
    if receiver == "webhook" and not (
        isinstance(alerts, list)
        and all(isinstance(a.get("labels", {}), dict) for a in alerts if isinstance(a, dict))
    ):
        # (an item that is no object is skipped where alerts are read, as before)
        raise TypeError(
            "a webhook payload's 'alerts' is not a list, or an alert's labels no object"
        )
    return Notification(
        received_at_unix=float(received), payload=payload, receiver=receiver, title=title
    )
