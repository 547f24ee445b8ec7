"""The record of every notification the receivers got: in memory and in a JSON-lines file.

A record is ``{receiver, received_at_unix, received_at, title, payload}``:

- ``receiver``: the integration that delivered it, ``webhook``, ``slack`` or ``email``;
- ``received_at_unix`` / ``received_at``: its arrival time (epoch seconds / ISO 8601, UTC);
- ``title``: Slack's first attachment title, the mail's Subject, ``""`` for a webhook;
- ``payload``: the webhook or Slack body as posted, or the parsed mail.

The file is append-only and reloaded on start, so nothing is lost when the sink restarts
(records written before receivers existed have neither ``receiver`` nor ``title``: they are
webhook records with an empty title).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assertions.backends.sink import INTEGRATIONS, Notification, title_tokens

__all__ = ["STATUSES", "NotificationStore", "matches"]

STATUSES = ("firing", "resolved")


class NotificationStore:
    """Recorded notifications, oldest first; safe to use from the server's threads."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_file():
                for line in path.read_text().splitlines():
                    if line.strip():
                        item = json.loads(line)
                        item.setdefault("receiver", "webhook")
                        item.setdefault("title", "")
                        self._items.append(item)

    def record(
        self,
        payload: Mapping[str, Any],
        *,
        received_at: float,
        receiver: str = "webhook",
        title: str = "",
    ) -> dict[str, Any]:
        """Append one notification and return its record."""
        if receiver not in INTEGRATIONS:
            raise ValueError(
                f"unknown receiver {receiver!r}; record one of {', '.join(INTEGRATIONS)}"
            )
        item = {
            "receiver": receiver,
            "received_at_unix": received_at,
            "received_at": datetime.fromtimestamp(received_at, UTC).isoformat(),
            "title": title,
            "payload": dict(payload),
        }
        with self._lock:
            self._items.append(item)
            if self._path is not None:
                with self._path.open("a") as out:
                    out.write(json.dumps(item) + "\n")
        return item

    def query(
        self,
        *,
        receiver: str | None = None,
        alertname: str | None = None,
        status: str | None = None,
    ) -> list[dict[str, Any]]:
        """The records every given filter accepts (see :func:`matches`), oldest first."""
        with self._lock:
            items = list(self._items)
        return [item for item in items if matches(item, receiver, alertname, status)]


def matches(
    item: Mapping[str, Any], receiver: str | None, alertname: str | None, status: str | None
) -> bool:
    """Whether a record passes the filters; ``None`` accepts anything.

    ``receiver`` is exact. ``status`` (firing / resolved) is the webhook payload's status, or
    the ``[FIRING:N]`` / ``[RESOLVED]`` prefix of a Slack title or mail subject. ``alertname``
    is any webhook alert's ``alertname`` label, or a whitespace-separated word of the title.
    """
    kind = str(item.get("receiver", "webhook"))
    if receiver is not None and kind != receiver:
        return False
    payload = item.get("payload")
    if not isinstance(payload, Mapping):
        return alertname is None and status is None
    note = Notification(
        received_at_unix=0.0, payload=payload, receiver=kind, title=str(item.get("title", ""))
    )
    if status is not None and note.status != status:
        return False
    if alertname is None:
        return True
    if kind == "webhook":
        return any(_alertname(alert) == alertname for alert in note.alerts())
    return alertname in title_tokens(note.title)


def _alertname(alert: Mapping[str, Any]) -> object:
    labels = alert.get("labels")
    return labels.get("alertname") if isinstance(labels, Mapping) else None
