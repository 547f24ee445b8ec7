"""``chaosgate replay RUN_DIR``: a recorded run's load and faults played again, as a new run.

What a run records for this is summary.json's ``replay`` section
(:mod:`chaosgate.run.run_record`, read back checked by
:func:`~chaosgate.run.run_record_load.load_replay_record`). From it this module builds the
new run's plan:

- the profile: the recorded profile's bounds (SLOs, completeness, alert coverage, as this
  chaosgate defines the profile of that name and kind of chaos) with the recorded load put
  back: seed, scenarios and weights, users, spawn rate, duration, Locust processes (and a
  distributed load's workers), shape,
  IoT devices (:func:`replay_profile`);
- the experiments: the copies kept in the run folder, each checked against its recorded
  SHA-256 (:func:`verify_experiment_copies`; a copy changed since is bad input), and staged
  into the new run's folder under the original file's name (:func:`staged_paths`, written by
  :func:`stage_experiments` once the plan is checked), so the new run's checks carry the same
  names (``chaos.<stem>``) as the recorded ones;
- the schedule: each experiment's recorded start and inject offsets from the load's start
  (:func:`replay_schedule`), which the chaos phase plays instead of its usual gaps;
- the target: the one given, or the recorded one when it was a built-in target (``local``,
  ``local-k8s``) that still resolves to the same settings (:func:`resolve_replay_target`);
  a target file cannot be rebuilt from the record, whose credentials are redacted;
- the new run id, ``<UTC stamp>-<profile>-replay-<4 hex>``, and ``replay_of`` naming the
  recorded run (written into the new summary.json's ``replay`` section).

Modes: ``full`` (load and faults), ``faults-only`` (no Locust: the faults at their offsets
from when the load would have started) and ``load-only`` (the load alone, no experiment;
the profile's alert coverage is left out, since no fault can raise the alerts it names).

Every problem with the input raises :class:`ReplayError`, a
:class:`~chaosgate.report.run_folder.RunFolderError`: the command line prints it as one
``chaosgate: error:`` line and exits 2.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

from chaosgate.input_files import InputFileError, read_input_text
from chaosgate.report.page_file import safe_file_part
from chaosgate.report.run_folder import RunFolderError, read_run_folder
from chaosgate.run.profiles import Profile, profiles_for
from chaosgate.run.run_plan import ReplayMode, ReplayOf, RunPlan, ScheduledExperiment
from chaosgate.run.run_record import ExperimentCopy, ReplayRecord
from chaosgate.run.run_record_load import ReplayRecordError, load_replay_record
from chaosgate.target import BUILTIN_TARGETS, ResolvedTarget
from chaosgate.vocabulary import Clock

__all__ = [
    "REPLAY_SOURCES_DIR",
    "RecordedRun",
    "ReplayError",
    "VerifiedCopy",
    "describe_replay",
    "plan_replay",
    "read_recorded_run",
    "replay_profile",
    "replay_run_id",
    "replay_schedule",
    "resolve_replay_target",
    "stage_experiments",
    "staged_paths",
    "verify_experiment_copies",
]

REPLAY_SOURCES_DIR = "replayed-experiments"
"""Where a replay's run folder keeps the experiments it plays, ``NN/<original name>``."""


class ReplayError(RunFolderError):
    """A run folder that cannot be replayed as asked; the message says what to fix."""


@dataclass(frozen=True)
class RecordedRun:
    """A run folder to replay: its summary.json and its ``replay`` section, checked."""

    run_dir: Path
    summary: Mapping[str, Any]
    record: ReplayRecord


def read_recorded_run(run_dir: Path) -> RecordedRun:
    """``run_dir``'s summary.json and replay record; RunFolderError / ReplayError when the
    folder is no run folder or its record is missing or bad."""
    folder = read_run_folder(run_dir, with_ledger=False)
    try:
        record = load_replay_record(folder.summary)
    except ReplayRecordError as exc:
        raise ReplayError(f"cannot replay {run_dir}: {exc}") from None
    return RecordedRun(run_dir.resolve(), folder.summary, record)


@dataclass(frozen=True)
class VerifiedCopy:
    """One experiment copy of the recorded run, read and matching its recorded SHA-256."""

    copy: ExperimentCopy
    path: Path  # the copy in the recorded run's folder
    data: bytes
    name: str  # the original file's name: the replay plays it under this name


def _original_name(copy: ExperimentCopy) -> str:
    """The file name the experiment ran under (its stem names its checks), made safe."""
    name = PurePosixPath(copy.original.replace("\\", "/")).name
    if not name:  # no name recorded: the copy's, without its "NN-" place
        name = PurePosixPath(copy.copy).name.split("-", 1)[-1]
    return safe_file_part(name)


def verify_experiment_copies(recorded: RecordedRun) -> tuple[VerifiedCopy, ...]:
    """Read every experiment copy of ``recorded`` and check it against the SHA-256 the run
    recorded; ReplayError naming the first copy that is missing, unreadable or changed."""
    verified = []
    for copy in recorded.record.experiments:
        path = recorded.run_dir / copy.copy
        try:
            data = read_input_text(path).encode("utf-8")  # as copy_experiments wrote it
        except InputFileError as exc:
            raise ReplayError(
                f"cannot replay {recorded.run_dir}: experiment copy {str(path)!r} {exc.reason}; "
                "the run folder is incomplete: restore the copy or replay another run"
            ) from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != copy.sha256:
            raise ReplayError(
                f"cannot replay {recorded.run_dir}: experiment copy {str(path)!r} has SHA-256 "
                f"{digest}, the run recorded {copy.sha256}: it was changed after the run; "
                "restore it as it ran or replay another run"
            )
        verified.append(VerifiedCopy(copy, path, data, _original_name(copy)))
    return tuple(verified)


def staged_paths(copies: Sequence[VerifiedCopy], run_dir: Path) -> tuple[Path, ...]:
    """Where a replay into ``run_dir`` plays each copy from:
    ``run_dir``/replayed-experiments/NN/<original name>."""
    return tuple(
        (run_dir / REPLAY_SOURCES_DIR / f"{index:02d}" / copy.name).resolve()
        for index, copy in enumerate(copies)
    )


def stage_experiments(copies: Sequence[VerifiedCopy], paths: Sequence[Path]) -> None:
    """Write each verified copy (its bytes as verified) to its path in ``paths`` (the plan's
    experiments, :func:`staged_paths`): what the replay's chaos phase plays. Raises
    ReplayError when the folder cannot be written."""
    for copy, path in zip(copies, paths, strict=True):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(copy.data)
        except OSError as exc:
            raise ReplayError(
                f"cannot write {str(path)!r}: {exc.strerror or exc}; give --reports a folder "
                "chaosgate may write in"
            ) from None


def replay_profile(record: ReplayRecord, experiments: Sequence[Path]) -> Profile:
    """The recorded profile with the recorded load, playing ``experiments``."""
    known = profiles_for(record.chaos)
    if record.profile not in known:
        raise ReplayError(
            f"the recorded run's profile {record.profile!r} is not one this chaosgate has for "
            f"{record.chaos} chaos ({', '.join(known)}): replay it with the chaosgate that made it"
        )
    load = record.load
    return replace(
        known[record.profile],
        seed=record.seed,
        scenarios=tuple(record.scenarios),
        weights=dict(record.weights),
        users=load.users,
        spawn_rate=load.spawn_rate,
        duration_s=load.duration_s,
        processes=load.processes,
        workers=load.workers,
        expect_workers=load.expect_workers,
        master_bind=load.master_bind,
        shape=load.shape,
        iot_devices=load.iot_devices,
        chaos_start_s=record.chaos_start_s,
        recovery_s=record.recovery_s,
        experiments=tuple(str(path) for path in experiments),
        chaos=record.chaos,
        checks=record.checks,
        check_timeout_s=record.check_timeout_s,
    )


def replay_schedule(record: ReplayRecord) -> tuple[ScheduledExperiment | None, ...]:
    """One slot per recorded experiment: its recorded start and inject offsets, or None when
    it never started (the run skipped it, or was cut off before it)."""
    slots: list[ScheduledExperiment | None] = [None] * len(record.experiments)
    for fault in record.faults:
        index = fault.experiment_index
        if index is None or fault.started_s is None or slots[index] is not None:
            continue
        slots[index] = ScheduledExperiment(started_s=fault.started_s, inject_s=fault.inject_s)
    return tuple(slots)


def _differences(recorded: Any, now: Any, where: str = "") -> Iterator[str]:
    """The dotted paths where two JSON values differ."""
    if isinstance(recorded, Mapping) and isinstance(now, Mapping):
        for key in sorted(set(recorded) | set(now)):
            yield from _differences(recorded.get(key), now.get(key), f"{where}.{key}".lstrip("."))
    elif recorded != now:
        yield where or "the target"


def resolve_replay_target(
    record: ReplayRecord, spec: str | None, resolve: Callable[[str], ResolvedTarget]
) -> ResolvedTarget:
    """The target to replay against: ``spec`` when given (``--target``), else the recorded
    one if it was a built-in target that ``resolve`` still gives the same settings. Its kind
    of chaos must be the recorded experiments'."""
    name = str(record.target.get("name", ""))
    if spec is None:
        if name not in BUILTIN_TARGETS:
            raise ReplayError(
                f"the recorded run's target {name!r} was read from a target file, which the "
                "record cannot rebuild (its credentials were left out): give it with "
                "--target FILE (or another target)"
            )
        resolved = resolve(name)
        differ = list(_differences(record.target, resolved.target.redacted_dict()))
        if differ:
            shown = ", ".join(differ[:3]) + (f" and {len(differ) - 3} more" if differ[3:] else "")
            raise ReplayError(
                f"the recorded run's target {name!r} is not the built-in {name!r} as it resolves "
                f"now ({shown} differ: other ports, environment overrides, or a target file "
                f"named {name!r}): give --target (and --port) to say which to replay against"
            )
    else:
        resolved = resolve(spec)
    chaos = resolved.target.chaos
    if chaos != record.chaos:
        raise ReplayError(
            f"target {resolved.target.name!r} takes {chaos} chaos; the recorded run's "
            f"experiments are {record.chaos} chaos: give a target with chaos: {record.chaos}"
        )
    return resolved


def replay_run_id(profile: str, *, clock: Clock = time.time) -> str:
    """``<UTC stamp>-<profile>-replay-<4 hex>``: sorted with the other runs, and a replay."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(clock()))
    return f"{stamp}-{safe_file_part(profile)}-replay-{secrets.token_hex(2)}"


def plan_replay(
    recorded: RecordedRun,
    resolved: ResolvedTarget,
    copies: Sequence[VerifiedCopy],
    *,
    mode: ReplayMode = "full",
    web: bool = False,
    reports_dir: Path | None = None,
    command: Sequence[str] = (),
    run_id: str | None = None,
) -> RunPlan:
    """The new run's plan, playing ``copies`` (:func:`verify_experiment_copies`) from where
    :func:`stage_experiments` is to write them in the new run's folder; ``reports_dir``
    defaults to the folder the recorded run is in."""
    record = recorded.record
    if len(copies) != len(record.experiments):
        raise ValueError("a replay plays one copy per recorded experiment")
    load_only = mode == "load-only"
    run_id = run_id or replay_run_id(record.profile)
    folder = reports_dir if reports_dir is not None else recorded.run_dir.parent
    run_dir = (folder / run_id).resolve()
    experiments = () if load_only else staged_paths(copies, run_dir)
    profile = replay_profile(record, experiments)
    if load_only:  # no fault can raise the alerts the profile must prove
        profile = replace(profile, alert_coverage=())
    return RunPlan(
        run_id=run_id,
        run_dir=run_dir,
        target=resolved.target,
        profile=profile,
        experiments=experiments,
        command=tuple(command),
        schedule=() if load_only else replay_schedule(record),
        with_load=mode != "faults-only",
        web=web,
        replay_of=ReplayOf(run_id=record.run_id, run_dir=str(recorded.run_dir), mode=mode),
    )


def _slot_line(index: int, path: Path, slot: ScheduledExperiment | None, end_s: int) -> str:
    head = f"    - {index:02d} {path.stem}:"
    if slot is None:
        return f"{head} did not start in the recorded run: skipped"
    if slot.started_s >= end_s:
        return f"{head} started at +{slot.started_s:.1f} s, past the load's end: skipped"
    inject = "nothing injected" if slot.inject_s is None else f"inject +{slot.inject_s:.2f} s"
    return f"{head} start +{slot.started_s:.2f} s, {inject}"


def describe_replay(plan: RunPlan) -> str:
    """What the replay plays, for the printout before it starts."""
    of = plan.replay_of
    profile = plan.profile
    lines = [f"replay of {of.run_id} ({of.run_dir}), {of.mode}" if of else "replay"]
    if plan.with_load:
        web = "; Locust's web UI on a free local port" if plan.web else ""
        lines.append(
            f"  load as recorded: seed {profile.seed}, {profile.users} users, "
            f"spawn {profile.spawn_rate}/s, {profile.duration_s} s, "
            f"weights {', '.join(f'{k}={v}' for k, v in profile.weights.items())}, "
            f"shape {profile.shape or 'none'}{web}"
        )
    else:
        lines.append(f"  no load: the offsets count from the start, over {profile.duration_s} s")
    if plan.schedule:
        gaps = f"+{profile.chaos_start_s} s, {profile.recovery_s} s gaps"
        lines.append(f"  faults at their recorded offsets from the load's start (not {gaps}):")
        lines += [
            _slot_line(index, path, slot, profile.duration_s)
            for index, (path, slot) in enumerate(zip(plan.experiments, plan.schedule, strict=True))
        ]
    else:
        lines.append("  no faults")
    return "\n".join(lines)
