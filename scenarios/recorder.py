"""Writes every request Locust reports to the request ledger: the one place requests are recorded.

A :class:`LedgerRecorder` listens to Locust's events: ``test_start`` opens this process's
ledger file (not in a master, which sends no requests), ``request`` appends one entry per
request that carries our ids in its context (see :mod:`scenarios.base`), ``test_stop`` and
``quitting`` close it. With ``--processes N`` each worker process writes its own file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from locust.event import EventHook, Events
from locust.runners import MasterRunner

from chaosgate.vocabulary import LedgerEntry
from scenarios.ledger import LedgerWriter

__all__ = ["LedgerRecorder", "ledger_entry", "listen"]


def listen(hook: EventHook, listener: Callable[..., None]) -> None:
    """``hook.add_listener(listener)``, typed (Locust leaves it unannotated)."""
    hook.add_listener(listener)  # type: ignore[no-untyped-call]


def ledger_entry(
    *,
    request_type: str,
    name: str,
    response_time: float,
    response: object,
    context: Mapping[str, Any],
    exception: BaseException | None,
    start_time: float | None,
) -> LedgerEntry | None:
    """The entry for one reported request, or None when it carries none of our ids."""
    trace_id = context.get("trace_id")
    if not isinstance(trace_id, str):
        return None
    status = getattr(response, "status_code", 0) or 0
    error = ""
    if not status:
        cause = getattr(response, "error", None) or exception
        error = f"{type(cause).__name__}: {cause}" if cause is not None else "no response"
    latency_s = response_time / 1000.0
    return LedgerEntry(
        trace_id=trace_id,
        span_id=str(context.get("span_id", "")),
        request_id=str(context.get("request_id", "")),
        scenario=str(context.get("scenario", "")),
        method=request_type,
        route=name,
        status=int(status),
        started_at=start_time if start_time is not None else time.time() - latency_s,
        latency_s=latency_s,
        error=error,
        user=str(context.get("user", "")),
    )


class LedgerRecorder:
    """Owns this process's :class:`LedgerWriter` between ``test_start`` and ``test_stop``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.writer: LedgerWriter | None = None

    def install(self, events: Events) -> None:
        listen(events.test_start, self.on_test_start)
        listen(events.request, self.on_request)
        listen(events.test_stop, self.on_test_stop)
        listen(events.quitting, self.on_test_stop)

    def on_test_start(self, environment: Any, **_: Any) -> None:
        if isinstance(getattr(environment, "runner", None), MasterRunner):
            return
        if self.writer is None:
            self.writer = LedgerWriter(self.directory)

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float,
        response: object = None,
        context: Mapping[str, Any] | None = None,
        exception: BaseException | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        if self.writer is None:
            return
        entry = ledger_entry(
            request_type=request_type,
            name=name,
            response_time=response_time,
            response=response,
            context=context or {},
            exception=exception,
            start_time=start_time,
        )
        if entry is not None:
            self.writer.write(entry)

    def on_test_stop(self, **_: Any) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()
