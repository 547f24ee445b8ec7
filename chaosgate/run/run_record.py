"""What a replay needs, recorded by the run: summary.json's ``replay`` section.

A run that is to be replayed (a later ``chaosgate replay RUN_DIR``) must say exactly what ran:
the seed, the profile and its load (scenarios and weights, users, spawn rate, duration, Locust
processes, shape, IoT devices, when the first fault comes and the gap between faults), each
experiment as it ran, when each fault was injected and rolled back relative to the load's
start, the target (credentials redacted), and the versions of chaosgate and of the stack's
parts (:mod:`chaosgate.run.part_versions`). A second run with the same record then drives the
same load and the same faults at the same offsets.

- :func:`copy_experiments` copies each experiment file byte for byte into the run folder, as
  ``experiments/NN-<stem><suffix>`` (``NN`` its place in the plan, as the chaos journals'
  ``chaos/NN-<stem>.journal.json``), with its SHA-256: the record stays true when the original
  is edited later. Call it before the load, so the copy is what the chaos phase reads.
- :func:`build_replay_record` assembles the :class:`ReplayRecord`; ``as_json()`` is the
  section. Faults come from the chaos timeline's experiment spans, matched to the plan's
  experiments by title in order (an experiment that never started, e.g. skipped when the load
  ended, has no fault).
- :func:`~chaosgate.run.run_record_load.load_replay_record` reads the section back, checked.

Times are offsets in seconds from the load's start (``load_started_at``, unix seconds), rounded
to the millisecond; None where the moment did not happen (no inject, rollbacks not played).
A replay's record also names the run it replayed (``replay_of``: its id, its folder and the
mode, :class:`~chaosgate.run.run_plan.ReplayOf`); None for any other run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from chaosgate.chaos.experiment_errors import ExperimentError
from chaosgate.chaos.experiment_files import read_experiment_file
from chaosgate.chaos.timeline import ExperimentSpan
from chaosgate.input_files import InputFileError, read_input_text
from chaosgate.run.part_versions import ChaosgateBuild
from chaosgate.run.profiles import DEFAULT_CHECK_TIMEOUT_S
from chaosgate.run.run_plan import ReplayOf, RunPlan
from chaosgate.target_values import ChaosKind

__all__ = [
    "EXPERIMENT_COPIES_DIR",
    "REPLAY_FORMAT",
    "ExperimentCopy",
    "ExperimentCopyError",
    "LoadSettings",
    "RecordedFault",
    "ReplayRecord",
    "build_replay_record",
    "copy_experiments",
    "copy_name",
    "fault_offsets",
]

REPLAY_FORMAT = 1
"""The version of the ``replay`` section's layout; the loader refuses any other."""
EXPERIMENT_COPIES_DIR = "experiments"


class ExperimentCopyError(ExperimentError):
    """An experiment file could not be copied into the run folder (one line naming both)."""


@dataclass(frozen=True)
class ExperimentCopy:
    """One experiment of the plan as it ran: ``copy`` is relative to the run folder (POSIX
    separators), ``original`` the absolute path it was read from."""

    index: int
    original: str
    copy: str
    sha256: str
    size_bytes: int
    title: str | None  # the experiment's title (what the timeline names it by)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LoadSettings:
    """What the load ran with (:func:`chaosgate.run.load.locust_command` and ``load_env``):
    ``shape`` None is Locust's plain ``--users`` / ``--spawn-rate`` / ``--run-time``."""

    shape: str | None
    users: int
    spawn_rate: float
    duration_s: int
    processes: int
    iot_devices: int
    # a distributed load (chaosgate.run.load_workers); absent from records made before it
    workers: int = 0
    expect_workers: int = 0
    master_bind: str = ""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecordedFault:
    """One experiment run's fault window as offsets from the load's start, in seconds."""

    experiment: str  # its title, as the timeline names it
    experiment_index: int | None  # its place in ``ReplayRecord.experiments`` (None: unmatched)
    status: str | None  # the experiment's end status ("completed", "deviated", ...)
    started_s: float | None
    inject_s: float | None
    rollback_s: float | None
    ended_s: float | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReplayRecord:
    """summary.json's ``replay`` section (:meth:`as_json`), as written and as read back."""

    run_id: str
    seed: int
    profile: str
    chaos: ChaosKind
    scenarios: tuple[str, ...]  # Locust user classes, in the order given to Locust
    weights: Mapping[str, int]  # CHAOSGATE_WEIGHTS: user class -> weight
    load: LoadSettings
    chaos_start_s: int  # load before the first fault
    recovery_s: int  # quiet time between experiments
    experiments: tuple[ExperimentCopy, ...]
    faults: tuple[RecordedFault, ...]
    load_started_at: float | None  # unix seconds; None: the load never started
    target: Mapping[str, Any]  # Target.redacted_dict()
    chaosgate: ChaosgateBuild
    parts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    replay_of: ReplayOf | None = None  # the run this one replayed
    # a team's own checks (`--checks DIR`, run again from that folder) and their time bound;
    # absent from records made before them
    checks: str = ""
    check_timeout_s: int = DEFAULT_CHECK_TIMEOUT_S
    format: int = REPLAY_FORMAT

    def as_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "run_id": self.run_id,
            "seed": self.seed,
            "profile": self.profile,
            "chaos": self.chaos,
            "scenarios": list(self.scenarios),
            "weights": dict(self.weights),
            "load": self.load.as_json(),
            "chaos_start_s": self.chaos_start_s,
            "recovery_s": self.recovery_s,
            "experiments": [copy.as_json() for copy in self.experiments],
            "faults": [fault.as_json() for fault in self.faults],
            "load_started_at": self.load_started_at,
            "target": dict(self.target),
            "chaosgate": self.chaosgate.as_json(),
            "parts": {name: dict(info) for name, info in self.parts.items()},
            "replay_of": None if self.replay_of is None else self.replay_of.as_json(),
            "checks": self.checks,
            "check_timeout_s": self.check_timeout_s,
        }


def copy_name(index: int, path: Path) -> str:
    """``experiments/NN-<stem><suffix>``: where the ``index``-th experiment's copy goes."""
    return str(PurePosixPath(EXPERIMENT_COPIES_DIR) / f"{index:02d}-{path.stem}{path.suffix}")


def _title(copy: Path) -> str | None:
    try:
        document = read_experiment_file(copy)
    except ExperimentError:
        return None
    title = document.get("title") if isinstance(document, dict) else None
    return title if isinstance(title, str) else None


def copy_experiments(plan: RunPlan) -> tuple[ExperimentCopy, ...]:
    """Copy every experiment of ``plan`` into ``plan.run_dir / "experiments"``, byte for byte
    (read as every input file is: regular, non-blocking, at most 1 MiB), with its SHA-256.

    Raises :class:`ExperimentCopyError` naming the file when one cannot be read or written
    (the plan's experiments were validated, so this means the file changed or the run folder
    cannot be written)."""
    folder = plan.run_dir / EXPERIMENT_COPIES_DIR
    copies: list[ExperimentCopy] = []
    for index, path in enumerate(plan.experiments):
        original = path.absolute()
        relative = copy_name(index, path)
        target = plan.run_dir / relative
        try:
            data = read_input_text(original).encode("utf-8")  # UTF-8 round-trips byte for byte
        except InputFileError as exc:
            raise ExperimentCopyError(f"experiment {str(original)!r}: {exc}") from None
        try:
            folder.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            raise ExperimentCopyError(
                f"cannot copy experiment {str(original)!r} to {str(target)!r}: "
                f"{exc.strerror or exc}; check that the reports folder is writable"
            ) from None
        copies.append(
            ExperimentCopy(
                index=index,
                original=str(original),
                copy=relative,
                sha256=hashlib.sha256(data).hexdigest(),
                size_bytes=len(data),
                title=_title(target),
            )
        )
    return tuple(copies)


def _offset(at: float | None, origin: float | None) -> float | None:
    return None if at is None or origin is None else round(at - origin, 3)


def fault_offsets(
    windows: Sequence[ExperimentSpan],
    experiments: Sequence[ExperimentCopy],
    load_started_at: float | None,
) -> tuple[RecordedFault, ...]:
    """Each experiment span as offsets from ``load_started_at``, matched in order to the
    experiment with its title (the timeline knows titles only; experiments run in plan order,
    so the n-th span belongs to the next experiment with that title)."""
    faults: list[RecordedFault] = []
    position = 0  # experiments before it have been matched (or skipped)
    for window in windows:
        match = next(
            (
                at
                for at in range(position, len(experiments))
                if experiments[at].title == window.experiment
            ),
            None,
        )
        index = None if match is None else experiments[match].index
        position = position if match is None else match + 1
        faults.append(
            RecordedFault(
                experiment=window.experiment,
                experiment_index=index,
                status=window.status,
                started_s=_offset(window.started_at, load_started_at),
                inject_s=_offset(window.inject_at, load_started_at),
                rollback_s=_offset(window.rollback_at, load_started_at),
                ended_s=_offset(window.ended_at, load_started_at),
            )
        )
    return tuple(faults)


def build_replay_record(
    plan: RunPlan,
    experiments: Sequence[ExperimentCopy],
    windows: Sequence[ExperimentSpan],
    load_started_at: float | None,
    *,
    chaosgate: ChaosgateBuild,
    parts: Mapping[str, Mapping[str, Any]],
) -> ReplayRecord:
    """The record of ``plan``'s run: its profile and load, ``experiments`` (from
    :func:`copy_experiments`), their spans ``windows`` (``Timeline.experiment_spans()``) as
    offsets from ``load_started_at`` (None: the load never started, every offset None),
    chaosgate's build and the ``parts``' versions
    (:func:`~chaosgate.run.part_versions.read_part_versions`; ``{}`` when they were not read)."""
    profile = plan.profile
    return ReplayRecord(
        run_id=plan.run_id,
        seed=profile.seed,
        profile=profile.name,
        chaos=plan.target.chaos,
        scenarios=tuple(profile.scenarios),
        weights=dict(profile.weights),
        load=LoadSettings(
            shape=profile.shape,
            users=profile.users,
            spawn_rate=float(profile.spawn_rate),
            duration_s=profile.duration_s,
            processes=profile.processes,
            iot_devices=profile.iot_devices,
            workers=profile.workers,
            expect_workers=profile.expect_workers,
            master_bind=profile.master_bind,
        ),
        chaos_start_s=profile.chaos_start_s,
        recovery_s=profile.recovery_s,
        experiments=tuple(experiments),
        faults=fault_offsets(windows, experiments, load_started_at),
        load_started_at=load_started_at,
        target=plan.target.redacted_dict(),
        chaosgate=chaosgate,
        parts={name: dict(info) for name, info in parts.items()},
        replay_of=plan.replay_of,
        checks=profile.checks,
        check_timeout_s=profile.check_timeout_s,
    )
