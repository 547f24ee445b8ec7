"""Ledger lines from Locust workers to their master, over Locust's own messaging.

A worker's :class:`LedgerSender` sends its lines in batches (message :data:`MESSAGE`, every
:data:`~scenarios.ledger.FLUSH_EVERY_S` or :data:`BATCH_LINES` lines, and a last one marked
``final`` at its ``test_stop``; flushed before each of its stats reports too, so Locust never
counts a request whose line has not gone out). Each batch carries the worker's sequence number,
its count of lines recorded so far and of requests begun (a batch goes out for those alone when
no line waits), so the master can tell what never arrived. The master's
:class:`LedgerReceiver` writes every line into the run's single ledger file, keeps an account
per worker (also of the requests Locust's stats reports counted from it), and writes that
account to ``workers.json`` beside the ledger (:data:`ACCOUNT_FILE`; read by
:func:`chaosgate.run.load_workers.read_worker_account`): which workers were lost before their
final batch and how many of their entries are missing. Nothing is dropped silently.

The master waits for its workers' final batches and last stats (:func:`quit_after_workers`):
Locust's own ``MasterRunner.quit`` fires ``test_stop`` and gives its workers 0.5 s, while a
worker stops its users for up to ``--stop-timeout`` first. So the master's ``quit`` first
stops the workers (Locust waits for them), then asks them to quit and waits for their last
stats, bounded by the stop timeout plus :data:`QUIT_SLACK_S`. On Locust's shutdown (SIGTERM: an
interrupted run, which the runner SIGKILLs 2 s later) it asks them to quit at once and waits
:data:`SHUTDOWN_WAIT_S` for their final batches.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gevent
from locust.event import Events
from locust.rpc import Message
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from scenarios.ledger import LedgerWriter

__all__ = [
    "ACCOUNT_FILE",
    "BATCH_LINES",
    "MESSAGE",
    "LedgerReceiver",
    "LedgerSender",
    "WorkerAccount",
    "quit_after_workers",
]

MESSAGE = "chaosgate_ledger"
ACCOUNT_FILE = "workers.json"
BATCH_LINES = 500  # a batch goes out once this many lines wait
QUIT_SLACK_S = 15.0  # past the stop timeout, the master waits this long for final batches
SHUTDOWN_WAIT_S = 1.0  # on SIGTERM, the master waits this long for its workers' final batches
logger = logging.getLogger(__name__)


class LedgerSender:
    """A worker's side: lines gathered and sent to the master in numbered batches."""

    def __init__(
        self,
        runner: WorkerRunner,
        *,
        started: Callable[[], int] = lambda: 0,
        batch_lines: int = BATCH_LINES,
    ) -> None:
        """``started``: the requests this process has begun to send so far."""
        self._runner = runner
        self._started = started
        self._batch_lines = batch_lines
        self._pending: list[str] = []
        self.recorded = 0  # lines recorded by this worker so far
        self.batches = 0  # batches sent so far (the next batch's sequence number)
        self._started_sent = 0  # ``started`` as the last batch told it
        self.closed = False

    def write_line(self, line: str) -> None:
        self._pending.append(line)
        self.recorded += 1
        if len(self._pending) >= self._batch_lines:
            self.flush()

    def flush(self, *, final: bool = False) -> None:
        """Send what is pending; with nothing pending, still a batch when more requests have
        begun since the last one (its master learns of requests still in flight)."""
        started = self._started()
        if self.closed or not (self._pending or final or started != self._started_sent):
            return
        lines, self._pending = self._pending, []
        batch = {
            "seq": self.batches,
            "recorded": self.recorded,
            "started": started,
            "lines": lines,
            "final": final,
            "index": self._runner.worker_index,
        }
        try:
            self._runner.send_message(MESSAGE, batch)
        except BaseException:
            self._pending[:0] = lines  # not sent (e.g. the flush greenlet killed): keep them
            raise
        self.batches += 1
        self._started_sent = started

    def close(self) -> None:
        """The last batch, marked final: the master knows this worker's count is complete."""
        self.flush(final=True)
        self.closed = True


@dataclass
class WorkerAccount:
    """What the master knows of one worker's ledger lines."""

    worker: str  # Locust's client id (host and a random suffix)
    index: int = -1
    received: int = 0  # lines that arrived
    batches: int = 0  # batches that arrived
    recorded: int = 0  # the worker's own count of lines recorded, in its latest batch
    started: int = 0  # the requests it had begun to send, in its latest batch
    locust_requests: int = 0  # requests Locust's stats reports from this worker counted
    reports: int = 0  # Locust's stats reports from this worker
    final: bool = False  # its final batch arrived: the count is complete
    missing_sequence: list[int] = field(default_factory=list)  # batch numbers never seen
    lost: bool = False  # gone (missing heartbeats, or never said goodbye) before its final batch
    last_seen: float = 0.0

    @property
    def missing_entries(self) -> int:
        """Entries known to exist that never arrived: recorded by the worker (its own count,
        or Locust's), and for a lost worker also the requests it had begun by its last batch
        (they reached the target, maybe, and their entries died with it). What a lost worker
        sent after its last batch (at most a flush interval) nobody can count."""
        known = max(self.recorded, self.locust_requests)
        if self.lost:
            known = max(known, self.started)
        return max(0, known - self.received)

    @property
    def unfinished_requests(self) -> int:
        """A worker that said goodbye: requests it began and never finished (its users were
        stopped mid-request at the stop timeout); no entry, and no loss of one."""
        return 0 if self.lost else max(0, self.started - self.recorded)

    def as_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "missing_entries": self.missing_entries,
            "unfinished_requests": self.unfinished_requests,
        }


class LedgerReceiver:
    """The master's side: its workers' batches into the one ledger file, with an account."""

    def __init__(self, directory: Path, runner: MasterRunner) -> None:
        self.directory = directory
        self._runner = runner
        self._writer: LedgerWriter | None = None
        self.accounts: dict[str, WorkerAccount] = {}
        self._flusher: gevent.Greenlet[Any, Any] | None = None
        self.shutting_down = False  # Locust's shutdown (SIGTERM) began: end quickly

    def install(self, events: Events) -> None:
        self._runner.register_message(MESSAGE, self.on_batch)
        events.worker_report.add_listener(self.on_worker_report)  # type: ignore[no-untyped-call]
        events.test_stop.add_listener(self.on_test_stop)  # type: ignore[no-untyped-call]
        events.quitting.add_listener(self.on_quitting)  # type: ignore[no-untyped-call]
        quit_after_workers(self._runner, self)

    def _account(self, worker: str) -> WorkerAccount:
        account = self.accounts.get(worker)
        if account is None:
            account = self.accounts[worker] = WorkerAccount(worker)
        return account

    def _writer_now(self) -> LedgerWriter:
        if self._writer is None:
            self._writer = LedgerWriter(self.directory)
            self._flusher = gevent.spawn(self._flush_every)
        return self._writer

    def _flush_every(self) -> None:
        while True:
            gevent.sleep(0.5)
            if self._writer is not None:
                self._writer.flush()

    def on_batch(self, environment: Any, msg: Message, **_: Any) -> None:
        batch: dict[str, Any] = msg.data
        account = self._account(str(msg.node_id))
        seq = int(batch["seq"])
        expected = account.batches + len(account.missing_sequence)
        if seq > expected:
            account.missing_sequence.extend(range(expected, seq))
        elif seq < expected and seq in account.missing_sequence:
            account.missing_sequence.remove(seq)  # late, not lost
        lines: list[str] = batch["lines"]
        self._writer_now().write_lines(lines)
        account.received += len(lines)
        account.batches += 1
        account.recorded = max(account.recorded, int(batch["recorded"]))
        account.started = max(account.started, int(batch.get("started", 0)))
        account.index = int(batch.get("index", account.index))
        account.final = account.final or bool(batch["final"])
        account.last_seen = time.time()

    def on_worker_report(self, client_id: str, data: dict[str, Any], **_: Any) -> None:
        total = data.get("stats_total") or {}
        account = self._account(str(client_id))
        account.locust_requests += int(total.get("num_requests", 0))
        account.reports += 1

    def reports_from(self, worker: str) -> int:
        """Stats reports that came from ``worker`` so far."""
        account = self.accounts.get(worker)
        return 0 if account is None else account.reports

    def said_goodbye(self, worker: str) -> bool:
        """Whether ``worker``'s final batch came."""
        account = self.accounts.get(worker)
        return account is not None and account.final

    def mark_lost(self) -> None:
        """A worker that sent batches (or stats) and no final batch is lost; so is one Locust
        marks missing."""
        missing = {
            client.id for client in self._runner.clients.all if client.state == STATE_MISSING
        }
        for account in self.accounts.values():
            if not account.final or account.worker in missing:
                account.lost = True

    def write_account(self) -> Path:
        self.mark_lost()
        accounts = sorted(
            self.accounts.values(), key=lambda account: (account.index, account.worker)
        )
        lost = [account.worker for account in accounts if account.lost]
        document = {
            "workers": [account.as_json() for account in accounts],
            "received": sum(account.received for account in accounts),
            "lost_workers": lost,
            "missing_entries": sum(account.missing_entries for account in accounts),
        }
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / ACCOUNT_FILE
        staged = path.with_suffix(".tmp")
        staged.write_text(json.dumps(document, indent=1) + "\n")
        staged.replace(path)
        for account in accounts:
            if account.lost:
                logger.warning(
                    "chaosgate ledger: worker %s (index %d) lost before its final batch: "
                    "%d entries received, %d missing",
                    account.worker,
                    account.index,
                    account.received,
                    account.missing_entries,
                )
        return path

    def on_test_stop(self, **_: Any) -> None:
        if self._writer is not None:
            self._writer.flush()
        if self.accounts:
            self.write_account()

    def on_quitting(self, **_: Any) -> None:
        # a SIGTERM reaches Locust's shutdown, which fires quitting before it quits the
        # runner: ask the workers for their last batches first, briefly (the runner that sent
        # the signal kills what is left 2 s later); a no-op after a normal end
        self.shutting_down = True
        self._runner.quit()
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.kill(block=False)
        if self._writer is not None:
            self._writer.close()
        if self.accounts:
            self.write_account()


def quit_after_workers(
    runner: MasterRunner, receiver: LedgerReceiver, *, slack_s: float = QUIT_SLACK_S
) -> None:
    """Make ``runner.quit`` end the workers in Locust's own orderly way before quitting: first
    ``stop`` (Locust sends each worker ``stop`` and waits until all have stopped; a worker's
    final batch goes out at its ``test_stop``, before it says it stopped), then ``quit`` to
    each, waiting (at most the stop timeout plus ``slack_s``) for the last stats report of
    every worker that sent its final batch; then Locust's own quit. Sending ``quit`` to
    running workers instead makes Locust give the users of the first to leave to the others,
    which are leaving too."""
    original = runner.quit
    asked = done = False

    def quit() -> None:
        nonlocal asked, done
        if not asked:
            asked = True
            if receiver.shutting_down:
                _quit_workers_now(runner, receiver, SHUTDOWN_WAIT_S)
            else:
                _stop_then_quit_workers(runner, receiver, slack_s)
        if not done:  # the last worker's goodbye may have made Locust quit meanwhile
            done = True
            original()

    runner.quit = quit  # type: ignore[method-assign]


def _stop_then_quit_workers(runner: MasterRunner, receiver: LedgerReceiver, slack_s: float) -> None:
    workers = [client.id for client in runner.clients.all if client.state != STATE_MISSING]
    runner.stop()  # "stop" to every worker; returns when they have stopped (or after a timeout)
    reports = {worker: receiver.reports_from(worker) for worker in workers}
    for worker in workers:
        runner.send_message("quit", None, client_id=worker)  # Locust's own quit message
    stop_timeout = float(runner.environment.stop_timeout or 0)
    deadline = time.monotonic() + stop_timeout + slack_s  # a stopped worker waits that long
    while time.monotonic() < deadline:
        waiting = [
            worker
            for worker in workers
            if receiver.said_goodbye(worker) and receiver.reports_from(worker) <= reports[worker]
        ]
        if not waiting:
            return
        gevent.sleep(0.1)
    logger.error("chaosgate ledger: no last stats from workers %s after quit", ", ".join(waiting))


def _quit_workers_now(runner: MasterRunner, receiver: LedgerReceiver, wait_s: float) -> None:
    """Locust's shutdown: ``quit`` to every worker at once, and their final batches awaited
    for ``wait_s`` at most; a worker whose batch does not come is counted lost."""
    workers = [client.id for client in runner.clients.all if client.state != STATE_MISSING]
    for worker in workers:
        runner.send_message("quit", None, client_id=worker)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline and not all(map(receiver.said_goodbye, workers)):
        gevent.sleep(0.05)
