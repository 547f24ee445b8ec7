"""JSON-lines logs (refstack/CONTRACT.md): one object per line, trace and request ids on every line.

The loggers are built directly (``logging.Logger(name)``), not taken from the process-wide
registry, so every app owns its handlers and tests can run several apps side by side.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opentelemetry import trace

from restaurant.common.log_flood import FLOOD_IDS, LineIds
from restaurant.common.request_id import current_request_id

__all__ = ["JsonFormatter", "ServiceLogs", "build_logs", "format_timestamp"]


def format_timestamp(created: float) -> str:
    """RFC 3339 UTC with milliseconds and ``Z``: ``2025-01-31T12:00:00.123Z``."""
    stamp = datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _ids(record: logging.LogRecord) -> dict[str, str]:
    """The current span's and request's ids, or a log flood line's own (``extra=``)."""
    flood = getattr(record, FLOOD_IDS, None)
    if isinstance(flood, LineIds):
        return {
            "trace_id": flood.trace_id,
            "span_id": flood.span_id,
            "request_id": flood.request_id,
        }
    context = trace.get_current_span().get_span_context()
    return {
        "trace_id": trace.format_trace_id(context.trace_id) if context.is_valid else "",
        "span_id": trace.format_span_id(context.span_id) if context.is_valid else "",
        "request_id": current_request_id(),
    }


class JsonFormatter(logging.Formatter):
    """Formats a record as the contract's JSON object; ``extra={"http": {...}}`` adds ``http``."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "@timestamp": format_timestamp(record.created),
            "service": self._service,
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_ids(record),
        }
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            line["http"] = http
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


@dataclass(frozen=True)
class ServiceLogs:
    """``app`` for what handlers say, ``access`` for the one line per request."""

    app: logging.Logger
    access: logging.Logger
    handler: logging.Handler

    def close(self) -> None:
        for logger in (self.app, self.access):
            logger.removeHandler(self.handler)
        self.handler.close()


def build_logs(service: str, log_file: Path) -> ServiceLogs:
    """Loggers writing to ``log_file`` (appended; reopened if rotated away)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")
    handler.setFormatter(JsonFormatter(service))
    loggers = []
    for name in (f"restaurant.{service}", f"restaurant.{service}.access"):
        logger = logging.Logger(name, logging.INFO)
        logger.propagate = False
        logger.addHandler(handler)
        loggers.append(logger)
    return ServiceLogs(app=loggers[0], access=loggers[1], handler=handler)
