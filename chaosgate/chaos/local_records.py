"""What a local chaos action did, recorded in a JSON file under the stack's run dir.

A fault that outlives a crash of the runner (a stress process, a mounted filesystem, devices
registered in the IoT service) is written down *before* it is injected, so its rollback,
possibly played by another process (``chaos run`` after the runner died), undoes exactly what
was recorded and nothing found by name. A record is a JSON list of objects; a missing or
unreadable file is an empty record, and an empty record removes the file.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from chaosgate.chaos.local_stack import current_layout

__all__ = ["RECORD_LOCK", "read_record", "record_path", "write_record"]

# one lock for every record file: actions and rollbacks of one process never interleave
RECORD_LOCK = threading.RLock()


def record_path(name: str) -> Path:
    """``<stack run dir>/<name>`` of the stack ``CHAOSGATE_STACK_DIR`` points at."""
    return current_layout().run_dir / name


def read_record(path: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def write_record(path: Path, entries: list[dict[str, Any]]) -> None:
    if not entries:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(entries, indent=2))
    temporary.replace(path)  # a crash mid-write leaves the old record, never half a file
