"""A run's plan (what to run, against what, where its reports go) and its outcome.

A replay (``chaosgate replay``, :mod:`chaosgate.run.replay`) is a plan like any other with
four more fields: ``schedule`` (when each experiment starts and injects, from the recorded
run), ``with_load`` (False: the faults alone, ``--faults-only``), ``web`` (Locust with its web
UI) and ``replay_of`` (the run it plays again, written into summary.json's ``replay``
section). A plain ``chaosgate run`` leaves them at their defaults.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from assertions.result import CheckResult
from chaosgate.run.profiles import Profile
from chaosgate.target import Target

__all__ = ["REPLAY_MODES", "ReplayMode", "ReplayOf", "RunOutcome", "RunPlan", "ScheduledExperiment"]

ReplayMode = Literal["full", "faults-only", "load-only"]
REPLAY_MODES: tuple[ReplayMode, ...] = ("full", "faults-only", "load-only")


@dataclass(frozen=True)
class ScheduledExperiment:
    """When one experiment of a replay plays, in seconds from the load's start: it starts at
    ``started_s`` and its method's first action begins at ``inject_s`` (None: the recorded
    run injected nothing, e.g. its steady state failed, so nothing waits for that moment)."""

    started_s: float
    inject_s: float | None


@dataclass(frozen=True)
class ReplayOf:
    """The run a replay plays again: its id, its folder (absolute) and what was replayed."""

    run_id: str
    run_dir: str
    mode: ReplayMode = "full"

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    run_dir: Path
    target: Target
    profile: Profile
    experiments: tuple[Path, ...]
    command: tuple[str, ...] = ()
    # a replay's: one slot per experiment (None: it did not start in the recorded run, so it
    # is skipped); None for a plain run, whose faults follow chaos_start_s and recovery_s
    schedule: tuple[ScheduledExperiment | None, ...] | None = None
    with_load: bool = True  # False: no Locust; the offsets count from when it would start
    web: bool = False  # Locust with its web UI on a free local port (else headless)
    replay_of: ReplayOf | None = None


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    verdict: str
    summary_path: Path
    checks: tuple[CheckResult, ...]
