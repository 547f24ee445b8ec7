"""A run's side of the fault ledger: record before injecting, settle after the rollback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import psutil

from chaosgate.faults.ledger import EntryState, FaultEntry, FaultLedger, ProcessRef

__all__ = ["RunFaults"]


class RunFaults:
    """The entries one run writes to its target's ledger (thread-safe)."""

    def __init__(
        self,
        ledger: FaultLedger,
        *,
        run_id: str,
        target: str,
        runner: ProcessRef,
        clock: Any = time.time,
    ) -> None:
        self.ledger = ledger
        self._run_id = run_id
        self._target = target
        self._runner = runner
        self._clock = clock
        self._entries: dict[str, FaultEntry] = {}
        self._lock = threading.Lock()

    def _write(self, entry: FaultEntry) -> FaultEntry:
        with self._lock:
            self.ledger.write(entry)
            self._entries[entry.id] = entry
        return entry

    def record_experiment(
        self,
        index: int,
        path: Path,
        experiment: Mapping[str, Any],
        *,
        configuration: Mapping[str, Any],
        environment: Mapping[str, str],
    ) -> FaultEntry:
        """Written before the experiment runs: LedgerError (nothing injected) if it cannot be."""
        title = str(experiment.get("title", path.stem))
        return self._write(
            FaultEntry(
                id=f"{self._run_id}-{index:02d}-{path.stem}"[:200],
                run_id=self._run_id,
                target=self._target,
                kind="experiment",
                title=f"experiment {path.stem} ({title})",
                recorded_at=self._clock(),
                runner=self._runner,
                source=str(path),
                experiment=json.loads(json.dumps(experiment, default=str)),
                configuration=dict(configuration),
                environment=dict(environment),
            )
        )

    def record_load(self, pid: int) -> FaultEntry | None:
        """The load process to stop if the runner dies; None if it has already ended."""
        try:
            process = ProcessRef.of(pid)
        except psutil.Error:
            return None
        return self._write(
            FaultEntry(
                id=f"{self._run_id}-load",
                run_id=self._run_id,
                target=self._target,
                kind="load",
                title=f"load (Locust, pid {pid})",
                recorded_at=self._clock(),
                runner=self._runner,
                process=process,
            )
        )

    def settle(self, entry: FaultEntry, *, undone: bool, detail: str) -> FaultEntry:
        state: EntryState = "undone" if undone else "undo-failed"
        return self._write(entry.marked(state, detail, at=self._clock()))

    def settle_load(self, *, undone: bool) -> None:
        """The load process ended (or not): its entry, if this run recorded one."""
        for entry in self.entries():
            if entry.kind == "load" and entry.state != "undone":
                detail = "the load ended" if undone else "the load process still runs"
                self.settle(entry, undone=undone, detail=detail)

    def entries(self) -> list[FaultEntry]:
        with self._lock:
            return sorted(self._entries.values(), key=lambda e: (e.recorded_at, e.id))

    def pending(self) -> list[FaultEntry]:
        return [entry for entry in self.entries() if entry.state != "undone"]

    def as_json(self) -> list[dict[str, Any]]:
        """What the run's reports keep (the experiment copies stay in the chaos journals)."""
        return [entry.model_dump(mode="json", exclude={"experiment"}) for entry in self.entries()]

    def forget_undone(self) -> None:
        """Remove this run's undone entries from the target's ledger (its reports keep them);
        what is not undone stays for ``chaosgate cleanup``."""
        with self._lock:
            for entry in self._entries.values():
                if entry.state == "undone":
                    self.ledger.remove(entry.id)
