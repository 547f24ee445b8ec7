"""The notification sink (``chaosgate sink``): the Alertmanager webhooks it received, and when."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from assertions.backends._http import join_url, request_json
from assertions.backends.errors import BackendError

__all__ = ["Notification", "SinkBackend"]

NAME = "sink"


@dataclass(frozen=True)
class Notification:
    received_at_unix: float
    payload: Mapping[str, Any]  # the Alertmanager webhook payload as received

    def alerts(self) -> Iterator[Mapping[str, Any]]:
        """The payload's alerts (each with ``status``, ``labels``, ``startsAt``...)."""
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
        self, *, alertname: str | None = None, status: str | None = None
    ) -> list[Notification]:
        """Recorded notifications, oldest first (``status``: firing or resolved)."""
        params = {
            key: value
            for key, value in (("alertname", alertname), ("status", status))
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
    received = item["received_at_unix"]
    if isinstance(received, bool) or not isinstance(received, int | float):
        raise TypeError(f"received_at_unix {received!r} is not a number")
    payload = item["payload"]
    if not isinstance(payload, dict):
        raise TypeError("'payload' is not an object")
    return Notification(received_at_unix=float(received), payload=payload)
