"""A container's log file as the kubelet API serves it: which bytes belong to which run, and
copying them out, once (with tailLines and limitBytes) or following the run as it writes.

Every run of a container appends its stdout and stderr to one file,
``<container_log_dir>/<namespace>_<pod>_<container>.log`` (:func:`container_log_path`). The
node never rotates or truncates it (rsyslog tails it), so to tell the runs apart the node notes,
just before each start, the file's size then: one decimal byte offset a line in
``<pod dir>/<container>.runs`` (:func:`record_run_start`). A run is the bytes from its offset to
the next run's, the latest to the end of the file. The record lives in the pod's directory: it
outlasts an agent restart (the next agent starts the pod's containers afresh and appends its
runs) and goes with the pod. A log without a record (a pod started by an agent that kept none)
is one run from byte 0.

The lines carry no timestamps: a container's output goes straight into the file, with no
runtime in between to stamp each line (a CRI runtime's log format does), so the API's
``sinceSeconds``, ``sinceTime`` and ``timestamps`` cannot be served (:mod:`.logquery` refuses
them). ``follow`` polls the file every ``poll_s`` (0.2 s): for one reader of a file that only
grows, a stat and a read five times a second cost nothing, and need neither inotify nor a
thread of their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

__all__ = [
    "CHUNK",
    "RunLog",
    "container_log_path",
    "copy_run",
    "follow_run",
    "record_run_start",
    "run_starts",
    "runs_record_path",
    "tail_start",
]

CHUNK = 64 * 1024
Write = Callable[[bytes], None]


def container_log_path(log_dir: Path, namespace: str, pod: str, container: str) -> Path:
    """Where a container's stdout and stderr go (rsyslog's input reads the same names)."""
    return log_dir / f"{namespace}_{pod}_{container}.log"


def runs_record_path(pod_dir: Path, container: str) -> Path:
    return pod_dir / f"{container}.runs"


def record_run_start(record: Path, log_path: Path) -> int:
    """Note that a run of the container begins at the log's current end; returns that offset."""
    try:
        offset = log_path.stat().st_size
    except FileNotFoundError:
        offset = 0
    record.parent.mkdir(parents=True, exist_ok=True)
    with record.open("a", encoding="ascii") as out:
        out.write(f"{offset}\n")
    return offset


def run_starts(record: Path) -> list[int]:
    """The recorded start offsets, oldest first ([] without a record). A line that is not a
    whole number (one being written this instant) is left out."""
    try:
        text = record.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return []
    return [int(line) for line in text.split("\n") if line.isdigit()]


class RunLog(Protocol):
    """One run's part of a container's log file."""

    @property
    def path(self) -> Path: ...

    @property
    def start(self) -> int: ...

    def end(self) -> int | None:
        """Where the run's bytes end; None while the run may still write more."""
        ...


def tail_start(log: BinaryIO, start: int, end: int, lines: int) -> int:
    """The offset of the first of the last ``lines`` lines in ``[start, end)``.

    A last line without its newline counts as a line, as the kubelet counts it; ``lines=0``
    gives ``end`` (nothing).
    """
    if lines <= 0 or end <= start:
        return end
    position = end
    log.seek(end - 1)
    if log.read(1) == b"\n":
        position -= 1  # the newline that ends the last line starts no line of its own
    found = 0
    while position > start:
        size = min(CHUNK, position - start)
        log.seek(position - size)
        block = log.read(size)
        index = len(block)
        while True:
            index = block.rfind(b"\n", 0, index)
            if index < 0:
                break
            found += 1
            if found == lines:
                return position - size + index + 1
        position -= size
    return start


def _copy(log: BinaryIO, start: int, end: int, write: Write, budget: int | None) -> int:
    """Copy ``[start, end)`` to ``write`` in chunks, at most ``budget`` bytes; returns how many."""
    log.seek(start)
    copied = 0
    while start + copied < end and (budget is None or copied < budget):
        want = min(CHUNK, end - start - copied)
        if budget is not None:
            want = min(want, budget - copied)
        block = log.read(want)
        if not block:
            break  # the file is shorter than it was (truncated by hand)
        write(block)
        copied += len(block)
    return copied


def _first_byte(run: RunLog, tail_lines: int | None, log: BinaryIO, end: int) -> int:
    start = min(run.start, end)
    return start if tail_lines is None else tail_start(log, start, end, tail_lines)


def copy_run(
    run: RunLog, write: Write, *, tail_lines: int | None = None, limit_bytes: int | None = None
) -> int:
    """The run's bytes as they are now (its last ``tail_lines`` lines, at most ``limit_bytes``
    bytes of them); returns the bytes written. A missing file is an empty log."""
    try:
        log = run.path.open("rb")
    except FileNotFoundError:
        return 0
    with log:
        size = os.fstat(log.fileno()).st_size
        run_end = run.end()
        end = size if run_end is None else min(run_end, size)
        first = _first_byte(run, tail_lines, log, end)
        return _copy(log, first, end, write, limit_bytes)


def follow_run(
    run: RunLog,
    write: Write,
    *,
    give_up: Callable[[], bool],
    wait: Callable[[float], object],
    tail_lines: int | None = None,
    limit_bytes: int | None = None,
    poll_s: float = 0.2,
) -> int:
    """Copy the run's bytes and then what it writes, until it has ended and every byte is out,
    ``limit_bytes`` are out, or ``give_up()`` (the client left, the agent stops).

    ``wait(poll_s)`` sleeps between polls (an Event's wait, so a stopping agent cuts it
    short). Where the run ends is asked before the file is read: once a run has ended, all it
    wrote is in the file, so the read that follows drains it. Returns the bytes written.
    """
    while not run.path.exists():  # the container was created but has not started yet
        if run.end() is not None or give_up():
            return 0
        wait(poll_s)
    with run.path.open("rb") as log:
        run_end = run.end()
        size = os.fstat(log.fileno()).st_size
        end = size if run_end is None else min(run_end, size)
        position = _first_byte(run, tail_lines, log, end)
        written = 0
        while True:
            budget = None if limit_bytes is None else limit_bytes - written
            copied = _copy(log, position, end, write, budget)
            position += copied
            written += copied
            if limit_bytes is not None and written >= limit_bytes:
                return written
            if run_end is not None and position >= end:
                return written
            if give_up():
                return written
            wait(poll_s)
            run_end = run.end()
            size = os.fstat(log.fileno()).st_size
            end = size if run_end is None else min(run_end, size)
