"""The record ``stack up`` leaves of what it started, and the launcher's error.

``stack status`` and ``stack down`` act on this record only (the ports, supervisord's pid, the
parts and their health URLs, which store and whether Kubernetes runs), so ``down`` stops what
``up`` started and nothing else.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from refstack.launcher.health import PartRow
from refstack.launcher.layout import StackLayout

__all__ = ["StackError", "StackRecord", "pid_alive", "read_record"]


class StackError(Exception):
    """The stack cannot be started, stopped or inspected; the message says what to do."""


@dataclass(frozen=True)
class StackRecord:
    ports: dict[str, int]
    supervisord_pid: int
    started_at: float
    parts: list[PartRow]
    k8s: bool = False  # `stack up --k8s`: the control plane runs and the services are pods
    store: str = "opensearch"  # which store keeps the logs and spans (refstack.launcher.stores)

    def save(self, path: Path) -> None:
        payload = asdict(self)
        path.write_text(json.dumps(payload, indent=2))

    @classmethod
    def load(cls, path: Path) -> StackRecord:
        payload = json.loads(path.read_text())
        return cls(
            ports=payload["ports"],
            supervisord_pid=payload["supervisord_pid"],
            started_at=payload["started_at"],
            parts=[PartRow(**row) for row in payload["parts"]],
            k8s=bool(payload.get("k8s", False)),
            store=str(payload.get("store", "opensearch")),
        )


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie left for an init that does not reap counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def read_record(layout: StackLayout) -> StackRecord | None:
    """The running stack's record, or None when no stack from this state dir is running."""
    if not layout.record_file.is_file():
        return None
    record = StackRecord.load(layout.record_file)
    if not pid_alive(record.supervisord_pid):
        return None
    return record
