"""A run folder read back: summary.json's run, its checks as CheckResults, and its ledger.

``reports/<run-id>/`` is what report.html and ``chaosgate report RUN_DIR`` are built from, so
an old run's folder can be reported again. summary.json must be what
:class:`~chaosgate.report.summary.RunSummary` wrote: ``run_id``, ``verdict``, ``started_at``,
``finished_at`` and ``checks`` are required, ``settings``, ``timeline``, ``load``, ``faults``
and ``artifacts`` are optional, and fields this reader does not know are kept as they are
(later runs may carry more). A folder that is not one, or a summary.json that is not JSON or
lacks a field, is a :class:`RunFolderError` naming the file and the field.

The request ledger (``ledger/*.jsonl``) is optional: a run interrupted in its warm-up has
none. A ledger that cannot be read is not fatal either: the folder says why
(``ledger_problem``) and the report draws what it has without it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assertions.result import CheckResult
from chaosgate.input_files import InputFileError, read_input_text
from chaosgate.request_ledger import RequestLedgerError, read_ledger
from chaosgate.vocabulary import LedgerEntry

__all__ = ["MAX_SUMMARY_BYTES", "RunFolder", "RunFolderError", "read_run_folder"]

MAX_SUMMARY_BYTES = 64 << 20
"""The largest summary.json read (a nightly's is well under 1 MiB)."""

_REQUIRED_TEXT = ("run_id", "verdict")
_REQUIRED_TIMES = ("started_at", "finished_at")
_OPTIONAL_OBJECTS = ("settings", "load", "artifacts")
_OPTIONAL_LISTS = ("timeline", "faults")


class RunFolderError(Exception):
    """The folder is no run folder chaosgate can report on; the message says what to fix."""


@dataclass(frozen=True)
class RunFolder:
    """One run's folder as read: ``summary`` is summary.json whole (unknown fields kept)."""

    path: Path
    summary: Mapping[str, Any]
    checks: tuple[CheckResult, ...]
    ledger: tuple[LedgerEntry, ...]
    ledger_problem: str = ""  # why ledger/ could not be read; "" when it was or there is none

    @property
    def run_id(self) -> str:
        return str(self.summary["run_id"])

    @property
    def verdict(self) -> str:
        return str(self.summary["verdict"])

    @property
    def started_at(self) -> float:
        return float(self.summary["started_at"])

    @property
    def finished_at(self) -> float:
        return float(self.summary["finished_at"])

    @property
    def settings(self) -> Mapping[str, Any]:
        settings = self.summary.get("settings")
        return settings if isinstance(settings, Mapping) else {}

    @property
    def timeline(self) -> Sequence[Mapping[str, Any]]:
        records = self.summary.get("timeline")
        if not isinstance(records, list):
            return ()
        return [record for record in records if isinstance(record, Mapping)]

    @property
    def replay_of(self) -> str | None:
        """The id of the run this one replayed (``chaosgate replay``), None for a plain run."""
        replay = self.summary.get("replay")
        of = replay.get("replay_of") if isinstance(replay, Mapping) else None
        run_id = of.get("run_id") if isinstance(of, Mapping) else None
        return run_id if isinstance(run_id, str) and run_id else None

    @property
    def profile_name(self) -> str:
        """The profile the run used ("run" when the settings do not say)."""
        profile = self.settings.get("profile")
        name = profile.get("name") if isinstance(profile, Mapping) else None
        return name if isinstance(name, str) and name else "run"


def _is_time(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _summary(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise RunFolderError(
            f"{path} does not exist: give the folder of one run (reports/<run-id>/), which a "
            "run writes summary.json into"
        )
    try:
        text = read_input_text(path, limit=MAX_SUMMARY_BYTES)
    except InputFileError as exc:
        raise RunFolderError(f"{path} cannot be read: {exc.message()}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise RunFolderError(f"{path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} must hold a JSON object, not {type(data).__name__}")
    missing = [
        key
        for key in (*_REQUIRED_TEXT, *_REQUIRED_TIMES, "checks")
        if key not in data or data[key] is None
    ]
    if missing:
        raise RunFolderError(
            f"{path} lacks {', '.join(repr(key) for key in missing)}: it is not a summary "
            "chaosgate wrote; give the folder of a run"
        )
    for key in _REQUIRED_TEXT:
        if not isinstance(data[key], str) or not data[key]:
            raise RunFolderError(f"{path}: {key!r} must be a non-empty string")
    for key in _REQUIRED_TIMES:
        if not _is_time(data[key]):
            raise RunFolderError(f"{path}: {key!r} must be a unix time in seconds (a number)")
    for key in _OPTIONAL_OBJECTS:
        if data.get(key) is not None and not isinstance(data[key], dict):
            raise RunFolderError(f"{path}: {key!r} must be an object")
    for key in (*_OPTIONAL_LISTS, "checks"):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise RunFolderError(f"{path}: {key!r} must be a list")
    return data


def _checks(path: Path, records: list[Any]) -> tuple[CheckResult, ...]:
    checks = []
    for index, record in enumerate(records):
        try:
            checks.append(CheckResult.from_dict(record))
        except ValueError as exc:
            raise RunFolderError(f"{path}: checks[{index}]: {exc}") from None
    return tuple(checks)


def _ledger(directory: Path) -> tuple[tuple[LedgerEntry, ...], str]:
    if not directory.is_dir():
        return (), ""
    try:
        return tuple(read_ledger(directory)), ""
    except (RequestLedgerError, OSError, UnicodeDecodeError) as exc:
        return (), f"the request ledger could not be read: {exc}"


def read_run_folder(run_dir: Path, *, with_ledger: bool = True) -> RunFolder:
    """``run_dir``'s summary.json and checks, and (``with_ledger``) its request ledger."""
    if not run_dir.is_dir():
        what = "does not exist" if not run_dir.exists() else "is not a folder"
        raise RunFolderError(
            f"run folder {run_dir} {what}: give the folder of one run (reports/<run-id>/)"
        )
    path = run_dir / "summary.json"
    summary = _summary(path)
    checks = _checks(path, summary["checks"])
    ledger, problem = _ledger(run_dir / "ledger") if with_ledger else ((), "")
    return RunFolder(run_dir, summary, checks, ledger, problem)
