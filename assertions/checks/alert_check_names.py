"""The names of the checks about one expected alert: ``alert.<title>.<stage>``.

``<title>`` is the expected alert's title (its name and labels, e.g.
``UsersServiceDown{service=users,severity=critical}``; label values may hold dots), and
``<stage>`` one of ``fired``, ``resolved``, ``notified.<receiver>`` (receiver names hold no
dot) or ``notified`` alone (the alert is routed to no receiver). The judges build the names
here and the report and the coverage check read them back here, so the two cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["AlertCheckName", "alert_check_name", "parse_alert_check_name"]

_NAME = re.compile(r"^alert\.(?P<title>.+)\.(?P<stage>fired|resolved|notified\.[^.]+|notified)$")


@dataclass(frozen=True)
class AlertCheckName:
    title: str
    stage: str  # "fired", "resolved", "notified" or "notified.<receiver>"

    @property
    def receiver(self) -> str | None:
        """The receiver of a ``notified.<receiver>`` stage, else None."""
        return self.stage.split(".", 1)[1] if self.stage.startswith("notified.") else None


def alert_check_name(title: str, stage: str) -> str:
    return f"alert.{title}.{stage}"


def parse_alert_check_name(name: str) -> AlertCheckName | None:
    """The title and stage of an alert check's name; None for any other check."""
    match = _NAME.match(name)
    return None if match is None else AlertCheckName(match["title"], match["stage"])
