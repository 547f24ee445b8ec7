"""The request ledger's writing side: one JSON line per request the load sends.

Every Locust process writes its own file, ``ledger-<host>-<pid>.jsonl``, into the ledger
directory, line-buffered so a crash loses at most the line being written. The entry is
:class:`chaosgate.vocabulary.LedgerEntry`; the runner and the checks read the files back with
:mod:`chaosgate.request_ledger` (which needs no Locust).
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import IO

from chaosgate.vocabulary import LedgerEntry

__all__ = ["LedgerWriter"]


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
