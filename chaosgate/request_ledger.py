"""The request ledger's reading side: the entries the load's processes wrote, read back.

The load (``scenarios.ledger``, on the Locust side) writes ``ledger-<host>-<pid>.jsonl`` into
the run's ledger directory, one :class:`~chaosgate.vocabulary.LedgerEntry` a line: one file,
by the single Locust process or by the master its workers send their entries to (several
files, from older runs or loads recorded elsewhere, are read together). The runner, the
checks and the reports read them here, without importing Locust: :func:`read_ledger` all of
them once the load has ended, :class:`LedgerTail` what was appended since the last look while
it runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chaosgate.vocabulary import LedgerEntry

__all__ = ["LEDGER_FILES", "LedgerTail", "RequestLedgerError", "read_ledger"]

LEDGER_FILES = "ledger-*.jsonl"  # the glob of the files the load's processes write


class RequestLedgerError(Exception):
    """A ledger file cannot be read; the message names the file and line."""


def _entries(path: Path) -> Iterator[LedgerEntry]:
    with path.open() as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield LedgerEntry.from_json(line)
            except (ValueError, TypeError) as exc:
                if not line.endswith("\n"):
                    return  # the last line of a process that was killed mid-write
                raise RequestLedgerError(
                    f"ledger file {path}: line {number} is not an entry: {exc}"
                ) from exc


def read_ledger(directory: Path) -> list[LedgerEntry]:
    """Every entry of every ledger file in ``directory``, ordered by start time."""
    entries = [entry for path in sorted(directory.glob(LEDGER_FILES)) for entry in _entries(path)]
    entries.sort(key=lambda entry: entry.started_at)
    return entries


class LedgerTail:
    """Reads the entries appended to a ledger directory since the last call (for live probes)."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._offsets: dict[Path, int] = {}

    def new_entries(self) -> list[LedgerEntry]:
        entries: list[LedgerEntry] = []
        for path in sorted(self._directory.glob(LEDGER_FILES)):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as stream:
                stream.seek(offset)
                chunk = stream.read()
            complete = chunk[: chunk.rfind(b"\n") + 1]  # leave a half-written line for next time
            self._offsets[path] = offset + len(complete)
            for line in complete.decode().splitlines():
                if line.strip():
                    try:
                        entries.append(LedgerEntry.from_json(line))
                    except (ValueError, TypeError):
                        continue  # read_ledger reports malformed lines; a probe just skips them
        return entries
