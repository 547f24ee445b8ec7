"""The fault ledger of a target: one JSON file per fault, in a folder of its own per target.

Before the runner injects anything it writes an entry saying what undoing it takes (the
experiment's rollbacks with the configuration and environment they run with, or the load
process to stop) and which run and runner process wrote it; after the rollback it marks the
entry undone. A later process finds the folder from the target alone (no run id needed):
``<state dir>/faults/<target key>/``, where the state dir is ``$CHAOSGATE_STATE_DIR`` or
``$XDG_STATE_HOME/chaosgate`` (``~/.local/state/chaosgate``), and the key is the target's name
with a digest of what identifies the deployment (gateway URL, kind of chaos, cluster).

Each write goes to a temporary file that is flushed to disk and renamed over the entry, and
the folder is synced: a crash mid-write leaves the previous version of the entry, never half
of one. One file per entry keeps two processes (a runner and a ``cleanup``) from overwriting
each other's entries. Hand-written rather than a database: a few small JSON files that a user
can read and, in the last resort, delete by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any, Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "EntryState",
    "FaultEntry",
    "FaultKind",
    "FaultLedger",
    "LedgerError",
    "ProcessRef",
    "UnreadableEntry",
    "ledger_dir",
    "state_dir",
    "target_key",
]

FaultKind = Literal["experiment", "load"]
# pending: recorded, maybe injected, not known undone · undone · undo-failed: a rollback failed
EntryState = Literal["pending", "undone", "undo-failed"]
_MAX_ENTRY_BYTES = 4 * 2**20  # an experiment copy and its rollbacks; far more is not ours


class LedgerError(Exception):
    """The ledger cannot be written (the run must not inject a fault it cannot record)."""


class ProcessRef(BaseModel):
    """A process as it was when recorded: its pid and start time (a reused pid differs)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pid: int
    create_time: float

    @classmethod
    def of(cls, pid: int) -> ProcessRef:
        return cls(pid=pid, create_time=psutil.Process(pid).create_time())

    def process(self) -> psutil.Process | None:
        """The live process this refers to, or None once it has ended (or its pid is reused)."""
        try:
            process = psutil.Process(self.pid)
            if abs(process.create_time() - self.create_time) > 0.05:
                return None
            if process.status() == psutil.STATUS_ZOMBIE:
                return None
            return process
        except psutil.Error:
            return None

    def alive(self) -> bool:
        return self.process() is not None


class FaultEntry(BaseModel):
    """One thing a run did to a target that must be undone, and how to undo it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    run_id: str
    target: str
    kind: FaultKind
    title: str  # what a person reads: "experiment gateway-error-ratio (The gateway fails ...)"
    recorded_at: float
    runner: ProcessRef
    # kind "experiment": the experiment as it ran (so its rollbacks can be played again even
    # when its file is gone), the configuration values the runner gave it and the environment
    # its activities need (the stack's state dir); never secrets (chaoslib resolves the
    # experiment's own secrets block again when the rollbacks are played)
    source: str = ""
    experiment: dict[str, Any] = Field(default_factory=dict)
    configuration: dict[str, Any] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    # kind "load": the Locust process to stop
    process: ProcessRef | None = None
    state: EntryState = "pending"
    undone_at: float | None = None
    detail: str = ""  # how it was undone, or why undoing it failed

    @property
    def rollbacks(self) -> list[dict[str, Any]]:
        rollbacks = self.experiment.get("rollbacks")
        return [r for r in rollbacks if isinstance(r, dict)] if isinstance(rollbacks, list) else []

    def marked(self, state: EntryState, detail: str, *, at: float | None = None) -> FaultEntry:
        return self.model_copy(
            update={"state": state, "detail": detail, "undone_at": at or time.time()}
        )


class UnreadableEntry(BaseModel):
    """A file in the ledger that is not an entry (edited by hand, or not ours)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    reason: str


def state_dir(env: Mapping[str, str]) -> Path:
    given = env.get("CHAOSGATE_STATE_DIR")
    if given:
        return Path(given).expanduser().resolve()
    xdg = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return (Path(xdg).expanduser() / "chaosgate").resolve()


def target_key(name: str, identity: Mapping[str, Any]) -> str:
    """``<name>-<digest>``: the name for a person, the digest so that two targets that share a
    name (two teams' ``staging.yaml``) never share a ledger."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:48] or "target"
    digest = hashlib.sha256(json.dumps(dict(identity), sort_keys=True).encode()).hexdigest()
    return f"{slug}-{digest[:10]}"


def ledger_dir(env: Mapping[str, str], name: str, identity: Mapping[str, Any]) -> Path:
    return state_dir(env) / "faults" / target_key(name, identity)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FaultLedger:
    """The entries of one target, in ``directory`` (created on the first write)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, entry_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", entry_id) or entry_id.startswith("."):
            raise LedgerError(f"fault ledger entry id {entry_id!r} is not a plain file name")
        return self.directory / f"{entry_id}.json"

    def write(self, entry: FaultEntry) -> FaultEntry:
        """Write (or replace) ``entry`` durably; LedgerError if it cannot be written."""
        path = self._path(entry.id)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            with temporary.open("w") as out:
                out.write(entry.model_dump_json(indent=2))
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(path)
            _fsync_dir(self.directory)
        except OSError as exc:
            with suppress(OSError):
                temporary.unlink(missing_ok=True)
            raise LedgerError(
                f"cannot write the fault ledger at {self.directory}: {exc.strerror or exc}; "
                "make it writable or set CHAOSGATE_STATE_DIR to a writable folder"
            ) from exc
        return entry

    def remove(self, entry_id: str) -> None:
        self._path(entry_id).unlink(missing_ok=True)

    def _files(self) -> Iterator[Path]:
        try:
            yield from sorted(p for p in self.directory.iterdir() if p.suffix == ".json")
        except FileNotFoundError:
            return

    def read(self) -> tuple[list[FaultEntry], list[UnreadableEntry]]:
        """Every entry, oldest first, and the files that are not entries."""
        entries: list[FaultEntry] = []
        unreadable: list[UnreadableEntry] = []
        for path in self._files():
            if path.name.startswith("."):
                continue
            try:
                if not path.is_file() or path.stat().st_size > _MAX_ENTRY_BYTES:
                    raise ValueError("not a regular file of a fault ledger's size")
                entries.append(FaultEntry.model_validate_json(path.read_bytes()))
            except (OSError, ValueError, ValidationError) as exc:
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                unreadable.append(UnreadableEntry(path=path, reason=reason))
        entries.sort(key=lambda entry: (entry.recorded_at, entry.id))
        return entries, unreadable

    def pending(self) -> list[FaultEntry]:
        """Entries not known to be undone (pending, or their undo failed)."""
        return [entry for entry in self.read()[0] if entry.state != "undone"]

    def of_run(self, run_id: str) -> list[FaultEntry]:
        return [entry for entry in self.read()[0] if entry.run_id == run_id]
