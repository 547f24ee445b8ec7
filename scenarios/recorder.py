"""Writes every request Locust reports to the request ledger: the one place requests are recorded.

A :class:`LedgerRecorder` listens to Locust's events. ``request`` turns each request that
carries our ids in its context (see :mod:`scenarios.base`) into its ledger line
(:func:`ledger_line`) and hands it to this process's sink, chosen at ``test_start`` by the
process's part in the load:

- a local runner (one Locust process): the ledger file (:class:`~scenarios.ledger.LedgerWriter`);
- a worker of a Locust master (``--processes``, ``chaosgate run --workers``, workers started
  elsewhere): batches sent to the master over Locust's messaging
  (:class:`~scenarios.ledger_transport.LedgerSender`), so workers need no shared disk;
- the master sends no requests: it writes the single ledger file from its workers' batches
  (:class:`~scenarios.ledger_transport.LedgerReceiver`, installed on ``init``).

The sink is flushed every :data:`~scenarios.ledger.FLUSH_EVERY_S` by a greenlet, and for good
at ``test_stop`` and ``quitting``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import gevent
from locust.env import Environment
from locust.event import EventHook, Events
from locust.runners import MasterRunner, WorkerRunner

from chaosgate.vocabulary import LedgerEntry
from scenarios.base import TracedUser
from scenarios.ledger import FLUSH_EVERY_S, LedgerWriter, encode_line
from scenarios.ledger_transport import LedgerReceiver, LedgerSender
from scenarios.stats_csv import settle_stats_csv_on_quit

__all__ = ["LedgerRecorder", "ledger_entry", "ledger_line", "listen"]


def listen(hook: EventHook, listener: Callable[..., None]) -> None:
    """``hook.add_listener(listener)``, typed (Locust leaves it unannotated)."""
    hook.add_listener(listener)  # type: ignore[no-untyped-call]


def ledger_line(
    request_type: str,
    name: str,
    response_time: float,
    response: object,
    context: Mapping[str, Any],
    exception: BaseException | None,
    start_time: float | None,
) -> str | None:
    """The ledger line (no newline) of one reported request, or None when it carries none of
    our ids. The fields are :class:`~chaosgate.vocabulary.LedgerEntry`'s, in its order."""
    trace_id = context.get("trace_id")
    if type(trace_id) is not str:
        return None
    status = context.get("status")  # TracedUser.call puts it there
    if type(status) is not int:
        status = getattr(response, "status_code", 0) or 0
    error = ""
    if not status:
        cause = getattr(response, "error", None) or exception
        error = f"{type(cause).__name__}: {cause}" if cause is not None else "no response"
    latency_s = response_time / 1000.0
    return encode_line(
        trace_id,
        str(context.get("span_id", "")),
        str(context.get("request_id", "")),
        str(context.get("scenario", "")),
        request_type,
        name,
        int(status),
        start_time if start_time is not None else time.time() - latency_s,
        latency_s,
        error,
        str(context.get("user", "")),
    )


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
    """The entry of one reported request (what :func:`ledger_line` encodes), or None."""
    line = ledger_line(request_type, name, response_time, response, context, exception, start_time)
    return None if line is None else LedgerEntry.from_json(line)


def _requests_started() -> int:
    return TracedUser.requests_started


class LineSink(Protocol):
    """Where this process's ledger lines go (the file, or the master)."""

    def write_line(self, line: str) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class LedgerRecorder:
    """Owns this process's ledger sink between ``test_start`` and ``test_stop``."""

    def __init__(self, directory: Path | None, *, flush_every_s: float = FLUSH_EVERY_S) -> None:
        """``directory``: where a local runner or a master writes the ledger; None: no ledger
        there (a worker sends its lines to its master whatever its own settings say)."""
        self.directory = directory
        self.flush_every_s = flush_every_s
        self.writer: LedgerWriter | None = None  # a local runner's file
        self.sender: LedgerSender | None = None  # a worker's batches to its master
        self.receiver: LedgerReceiver | None = None  # a master's file of its workers' lines
        self._sink: LineSink | None = None
        self._flusher: gevent.Greenlet[Any, Any] | None = None

    def install(self, events: Events) -> None:
        listen(events.init, self.on_init)
        listen(events.test_start, self.on_test_start)
        listen(events.request, self.on_request)
        listen(events.test_stop, self.on_test_stop)
        listen(events.quitting, self.on_test_stop)

    def on_init(self, environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, MasterRunner) and self.receiver is None and self.directory:
            self.receiver = LedgerReceiver(self.directory, runner)
            self.receiver.install(environment.events)
        if runner is not None and not isinstance(runner, WorkerRunner):
            # Locust's stats CSV, where the run compares its ledger, counts what its stats do
            settle_stats_csv_on_quit(environment)
        if isinstance(runner, WorkerRunner):
            # a worker's quitting must flush before Locust's own goodbye to the master: the
            # quitting listeners run in reverse order, so this one (added after the runner's)
            # runs first
            listen(environment.events.quitting, self.on_test_stop)
            # and every stats report goes after the lines it counts: the master's ledger never
            # holds fewer of a worker's entries than Locust counted from it
            listen(environment.events.report_to_master, self.on_report_to_master)

    def on_report_to_master(self, **_: Any) -> None:
        if self.sender is not None and self._sink is self.sender:
            self.sender.flush()

    def on_test_start(self, environment: Any, **_: Any) -> None:
        runner = getattr(environment, "runner", None)
        if isinstance(runner, MasterRunner) or self._sink is not None:
            return
        sink: LineSink
        if isinstance(runner, WorkerRunner):
            # one sender per process: its batch numbers and counts run on across tests
            if self.sender is None:
                self.sender = LedgerSender(runner, started=_requests_started)
            self.sender.closed = False
            sink = self.sender
        elif self.directory is not None:
            sink = self.writer = LedgerWriter(self.directory)
        else:
            return  # no ledger asked for
        self._sink = sink
        self._flusher = gevent.spawn(self._flush_every, sink)

    def _flush_every(self, sink: LineSink) -> None:
        while True:
            gevent.sleep(self.flush_every_s)
            sink.flush()

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
        sink = self._sink
        if sink is None:
            return
        line = ledger_line(
            request_type, name, response_time, response, context or {}, exception, start_time
        )
        if line is not None:
            sink.write_line(line)

    def on_test_stop(self, **_: Any) -> None:
        sink, self._sink = self._sink, None
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.kill(block=False)
        if sink is not None:
            sink.close()
        self.writer = None
