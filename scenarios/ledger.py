"""The request ledger: one JSON line per request the load sends, so each can be found again.

Every Locust process writes its own file, ``ledger-<host>-<pid>.jsonl``, into the ledger
directory, line-buffered so a crash loses at most the line being written. The assertions read
all files of a directory back with :func:`read_ledger`.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

__all__ = ["LedgerEntry", "LedgerError", "LedgerTail", "LedgerWriter", "read_ledger"]


class LedgerError(Exception):
    """A ledger file cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class LedgerEntry:
    trace_id: str  # 32 lowercase hex, from the traceparent the request carried
    span_id: str  # 16 lowercase hex, the parent span id in that traceparent
    request_id: str  # the X-Request-ID the request carried
    scenario: str  # the Locust user class, e.g. "Customer"
    method: str
    route: str  # the route template, e.g. "/api/orders/{id}"
    status: int  # HTTP status; 0 when no response arrived (connection error, timeout)
    started_at: float  # unix time the request was sent
    latency_s: float
    error: str = ""  # transport error, empty when a response arrived
    # the simulated user that sent it, "<scenario>/<worker>/<n>" (its n-th of that class in
    # that Locust process): with a seed, the same user makes the same choices in every run
    user: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


class LedgerWriter:
    """Appends entries to this process's ledger file (thread- and greenlet-safe)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"ledger-{socket.gethostname()}-{os.getpid()}.jsonl"
        self._lock = threading.Lock()
        self._file: IO[str] = self.path.open("a", buffering=1)

    def write(self, entry: LedgerEntry) -> None:
        line = entry.to_json() + "\n"
        with self._lock:
            self._file.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _entries(path: Path) -> Iterator[LedgerEntry]:
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield LedgerEntry(**json.loads(line))
            except (ValueError, TypeError) as exc:
                if not line.endswith("\n"):
                    return  # the last line of a process that was killed mid-write
                raise LedgerError(
                    f"ledger file {path}: line {number} is not an entry: {exc}"
                ) from exc


def read_ledger(directory: Path) -> list[LedgerEntry]:
    """Every entry of every ledger file in ``directory``, ordered by start time."""
    entries = [
        entry for path in sorted(directory.glob("ledger-*.jsonl")) for entry in _entries(path)
    ]
    entries.sort(key=lambda entry: entry.started_at)
    return entries


class LedgerTail:
    """Reads the entries appended to a ledger directory since the last call (for live probes)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._offsets: dict[Path, int] = {}

    def new_entries(self) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        for path in sorted(self._directory.glob("ledger-*.jsonl")):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as stream:
                stream.seek(offset)
                chunk = stream.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # leave a half-written line for next time
            self._offsets[path] = offset + len(complete)
            for line in complete.decode().splitlines():
                if line.strip():
                    try:
                        entries.append(LedgerEntry(**json.loads(line)))
                    except (ValueError, TypeError):
                        continue  # read_ledger reports malformed lines; a probe just skips them
        return entries
