"""The query of ``GET /containerLogs/...``, read as the kubelet reads PodLogOptions, and the
answers the node cannot give refused with a 400 that says why.

The API server forwards ``kubectl logs``' options as ``follow``, ``previous``, ``timestamps``,
``sinceSeconds``, ``sinceTime``, ``tailLines``, ``limitBytes`` (and ``stream`` where its feature
gate is on). Booleans are read as the API machinery reads them: ``0`` and ``false`` (any case)
are false, any other value true. Served here: ``follow``, ``previous``, ``tailLines``,
``limitBytes``, and ``stream=All``. Refused: ``sinceSeconds``, ``sinceTime`` and
``timestamps=true``, because this node's log lines carry no timestamps
(:mod:`.logfiles`), and ``stream=Stdout|Stderr``, because a container's stdout and stderr
share one file. Serving everything instead would hand ``kubectl logs --since=5m`` the whole
log as if it were the last five minutes. Parameters the kubelet does not know are ignored,
as it ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

__all__ = ["LogError", "LogQuery", "parse_log_query"]


class LogError(Exception):
    """A log request the node answers with ``status`` and ``message`` instead of a log."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class LogQuery:
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    limit_bytes: int | None = None


_NO_TIMESTAMPS = (
    "this node's container logs carry no timestamps (each container writes its output "
    "straight into its log file)"
)


def _flag(values: dict[str, list[str]], name: str) -> bool:
    if name not in values:
        return False
    value = values[name][0]
    return not (value == "0" or value.lower() == "false")


def _integer(values: dict[str, list[str]], name: str, least: int) -> int | None:
    text = values.get(name, [""])[0]
    if text == "":
        return None
    try:
        number = int(text)
    except ValueError:
        raise LogError(400, f"{name}: {text!r} is not an integer") from None
    if number < least:
        bound = "greater than or equal to 0" if least == 0 else f"greater than {least - 1}"
        raise LogError(400, f"{name}: Invalid value: {number}: must be {bound}")
    return number


def parse_log_query(query: str) -> LogQuery:
    """The options of a ``?follow=true&tailLines=10`` query; raises LogError (400)."""
    values = parse_qs(query, keep_blank_values=True)
    if "sinceSeconds" in values or "sinceTime" in values:
        name = "sinceSeconds" if "sinceSeconds" in values else "sinceTime"
        raise LogError(
            400,
            f"{name} is not supported: {_NO_TIMESTAMPS}, so no line can be placed in time; "
            "use tailLines (kubectl logs --tail=N) or limitBytes instead",
        )
    if _flag(values, "timestamps"):
        raise LogError(
            400, f"timestamps=true is not supported: {_NO_TIMESTAMPS}; ask without --timestamps"
        )
    stream = values.get("stream", ["All"])[0]
    if stream not in ("", "All"):
        raise LogError(
            400,
            f"stream={stream} is not supported: a container's stdout and stderr share one log "
            "file on this node; ask for stream=All (the default)",
        )
    return LogQuery(
        follow=_flag(values, "follow"),
        previous=_flag(values, "previous"),
        tail_lines=_integer(values, "tailLines", 0),
        limit_bytes=_integer(values, "limitBytes", 1),
    )
