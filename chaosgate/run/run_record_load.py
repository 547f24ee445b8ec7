"""Reading summary.json's ``replay`` section back into a :class:`ReplayRecord`, checked.

A replay acts on what it reads (it copies experiments from the run folder and runs them
against a target), so nothing is taken on trust: every field must be there with its JSON type
and within the bounds the run itself enforces (users, duration and seed as the command line
allows them, a SHA-256 of 64 hex digits, an experiment copy inside the run folder, faults
naming experiments of the record). The first problem raises :class:`ReplayRecordError` (a
ValueError) naming the field by its path, e.g. ``replay.experiments[1].sha256``, what is wrong
with it and what to do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any, NoReturn, cast

from chaosgate.run.part_versions import ChaosgateBuild
from chaosgate.run.profiles import (
    DEFAULT_CHECK_TIMEOUT_S,
    MAX_DURATION_S,
    MAX_SEED,
    MAX_USERS,
    MIN_DURATION_S,
)
from chaosgate.run.run_plan import REPLAY_MODES, ReplayMode, ReplayOf
from chaosgate.run.run_record import (
    EXPERIMENT_COPIES_DIR,
    REPLAY_FORMAT,
    ExperimentCopy,
    LoadSettings,
    RecordedFault,
    ReplayRecord,
)
from chaosgate.target_values import ChaosKind

__all__ = ["ReplayRecordError", "load_replay_record"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHAOS_KINDS: tuple[ChaosKind, ...] = ("local", "kubernetes")
_REWRITE = "the run's summary.json was not written by this chaosgate or was edited"


class ReplayRecordError(ValueError):
    """summary.json's ``replay`` section is missing or has a missing or bad field."""


class _Fields:
    """One JSON object of the section, read field by field; ``where`` is its path."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, Mapping):
            _fail(where, f"is {_kind(value)}, not an object")
        self._value: Mapping[str, Any] = value
        self.where = where

    def path(self, key: str) -> str:
        return f"{self.where}.{key}"

    def raw_or_none(self, key: str) -> Any:
        """The value, or None when the key is missing (for a field added later)."""
        return self._value.get(key)

    def raw(self, key: str) -> Any:
        if key not in self._value:
            _fail(self.path(key), "is missing")
        return self._value[key]

    def integer(self, key: str, low: int, high: int | None = None) -> int:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(self.path(key), f"is {_kind(value)}, not an integer")
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"of at least {low}"
            _fail(self.path(key), f"is {value}, out of range; it must be {bound}")
        return value

    def number(self, key: str, *, optional: bool = False, positive: bool = False) -> Any:
        value = self.raw(key)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            _fail(self.path(key), f"is {_kind(value)}, not a number")
        if not math.isfinite(value) or (positive and value <= 0):
            _fail(self.path(key), f"is {value!r}; it must be a finite number{' > 0' * positive}")
        return float(value)

    def text(self, key: str, *, optional: bool = False) -> Any:
        value = self.raw(key)
        if value is None and optional:
            return None
        if not isinstance(value, str) or not value:
            _fail(self.path(key), f"is {_kind(value)}, not a non-empty string")
        return value

    def flag(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is not None and not isinstance(value, bool):
            _fail(self.path(key), f"is {_kind(value)}, not true, false or null")
        return None if value is None else bool(value)

    def obj(self, key: str) -> _Fields:
        return _Fields(self.raw(key), self.path(key))

    def items(self, key: str) -> list[tuple[str, Any]]:
        value = self.raw(key)
        if not isinstance(value, list):
            _fail(self.path(key), f"is {_kind(value)}, not a list")
        return [(f"{self.path(key)}[{at}]", item) for at, item in enumerate(value)]

    def mapping(self, key: str) -> dict[str, Any]:
        value = self.raw(key)
        if not isinstance(value, Mapping):
            _fail(self.path(key), f"is {_kind(value)}, not an object")
        return dict(value)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "a list", int: "an integer"}
    name = names.get(type(value), "a number" if isinstance(value, float) else "an object")
    shown = repr(value)
    return f"{name} ({shown[:40]}{'...' if len(shown) > 40 else ''})"


def _fail(where: str, problem: str) -> NoReturn:
    raise ReplayRecordError(f"summary.json {where}: {problem}; {_REWRITE}, or record it anew")


def _experiment(where: str, value: Any, position: int) -> ExperimentCopy:
    fields = _Fields(value, where)
    index = fields.integer("index", 0)
    if index != position:
        _fail(fields.path("index"), f"is {index}, not {position} (its place in the list)")
    copy = fields.text("copy")
    parts = PurePosixPath(copy).parts
    if copy.startswith("/") or "\\" in copy or len(parts) != 2 or parts[0] != EXPERIMENT_COPIES_DIR:
        _fail(fields.path("copy"), f"{copy!r} is not a file of the run's {EXPERIMENT_COPIES_DIR}/")
    if parts[1] in ("", ".", ".."):
        _fail(fields.path("copy"), f"{copy!r} names no file")
    sha256 = fields.text("sha256")
    if not _SHA256.fullmatch(sha256):
        _fail(fields.path("sha256"), f"{sha256[:80]!r} is not a SHA-256 (64 lowercase hex digits)")
    return ExperimentCopy(
        index=index,
        original=fields.text("original"),
        copy=copy,
        sha256=sha256,
        size_bytes=fields.integer("size_bytes", 0),
        title=fields.text("title", optional=True),
    )


def _fault(where: str, value: Any, experiments: int) -> RecordedFault:
    fields = _Fields(value, where)
    experiment = fields.raw("experiment")
    if not isinstance(experiment, str):  # "" is a title too: an experiment without one
        _fail(fields.path("experiment"), f"is {_kind(experiment)}, not a string")
    index = fields.raw("experiment_index")
    if index is not None:
        if not experiments:
            _fail(fields.path("experiment_index"), "names an experiment; the record lists none")
        index = fields.integer("experiment_index", 0, experiments - 1)
    return RecordedFault(
        experiment=experiment,
        experiment_index=index,
        status=fields.text("status", optional=True),
        started_s=fields.number("started_s", optional=True),
        inject_s=fields.number("inject_s", optional=True),
        rollback_s=fields.number("rollback_s", optional=True),
        ended_s=fields.number("ended_s", optional=True),
    )


def _load(fields: _Fields) -> LoadSettings:
    return LoadSettings(
        shape=fields.text("shape", optional=True),
        users=fields.integer("users", 1, MAX_USERS),
        spawn_rate=fields.number("spawn_rate", positive=True),
        duration_s=fields.integer("duration_s", MIN_DURATION_S, MAX_DURATION_S),
        processes=fields.integer("processes", 1),
        iot_devices=fields.integer("iot_devices", 0),
        # fields added with distributed loads: a record made before them had none
        workers=fields.integer("workers", 0) if fields.raw_or_none("workers") is not None else 0,
        expect_workers=(
            fields.integer("expect_workers", 0)
            if fields.raw_or_none("expect_workers") is not None
            else 0
        ),
        master_bind=fields.text("master_bind") if fields.raw_or_none("master_bind") else "",
    )


def _chaosgate(fields: _Fields) -> ChaosgateBuild:
    return ChaosgateBuild(
        version=fields.text("version", optional=True),
        git_revision=fields.text("git_revision", optional=True),
        git_dirty=fields.flag("git_dirty"),
    )


def _replay_of(record: _Fields) -> ReplayOf | None:
    """The run a replay replayed; None for a run that was none (or recorded before replays
    named their original: the field may be missing)."""
    if record.raw_or_none("replay_of") is None:
        return None
    fields = record.obj("replay_of")
    mode = fields.raw("mode")
    if mode not in REPLAY_MODES:
        _fail(fields.path("mode"), f"is {_kind(mode)}; give one of {', '.join(REPLAY_MODES)}")
    return ReplayOf(
        run_id=fields.text("run_id"), run_dir=fields.text("run_dir"), mode=cast(ReplayMode, mode)
    )


def load_replay_record(summary: Mapping[str, Any]) -> ReplayRecord:
    """The ``replay`` section of ``summary`` (summary.json, decoded), every field checked;
    raises :class:`ReplayRecordError` naming the first missing or bad field."""
    if not isinstance(summary, Mapping):
        raise ReplayRecordError(f"summary.json is {_kind(summary)}, not an object; {_REWRITE}")
    if "replay" not in summary:
        raise ReplayRecordError(
            "summary.json has no 'replay' section: the run was made by a chaosgate that did "
            "not record what a replay needs (or was cut off before its reports); run it again "
            "with this chaosgate to have one"
        )
    record = _Fields(summary["replay"], "replay")
    found = record.raw("format")
    if found != REPLAY_FORMAT or isinstance(found, bool):
        _fail(record.path("format"), f"is {found!r}; this chaosgate reads format {REPLAY_FORMAT}")
    chaos = record.raw("chaos")
    if chaos not in _CHAOS_KINDS:
        _fail(record.path("chaos"), f"is {_kind(chaos)}; give one of {', '.join(_CHAOS_KINDS)}")
    scenarios = []
    for where, item in record.items("scenarios"):
        if not isinstance(item, str) or not item:
            _fail(where, f"is {_kind(item)}, not the name of a Locust user class")
        scenarios.append(item)
    weights: dict[str, int] = {}
    weight_fields = record.obj("weights")
    for name in record.mapping("weights"):
        weights[name] = weight_fields.integer(name, 0)
    experiments = tuple(
        _experiment(where, item, at) for at, (where, item) in enumerate(record.items("experiments"))
    )
    faults = tuple(_fault(where, item, len(experiments)) for where, item in record.items("faults"))
    parts = record.obj("parts")
    return ReplayRecord(
        format=REPLAY_FORMAT,
        run_id=record.text("run_id"),
        seed=record.integer("seed", 0, MAX_SEED),
        profile=record.text("profile"),
        chaos=cast(ChaosKind, chaos),
        scenarios=tuple(scenarios),
        weights=weights,
        load=_load(record.obj("load")),
        chaos_start_s=record.integer("chaos_start_s", 0),
        recovery_s=record.integer("recovery_s", 0),
        experiments=experiments,
        faults=faults,
        load_started_at=record.number("load_started_at", optional=True),
        target=record.mapping("target"),
        chaosgate=_chaosgate(record.obj("chaosgate")),
        parts={name: parts.mapping(name) for name in record.mapping("parts")},
        replay_of=_replay_of(record),
        # fields added with a team's checks: a record made before them had none
        checks=record.text("checks") if record.raw_or_none("checks") else "",
        check_timeout_s=(
            record.integer("check_timeout_s", 1)
            if record.raw_or_none("check_timeout_s") is not None
            else DEFAULT_CHECK_TIMEOUT_S
        ),
    )
