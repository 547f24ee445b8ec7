"""A finished run as a team's own checks see it: its summary, ledger, faults and expected alerts.

Built from the run's folder (``reports/<run-id>/``: summary.json, ``ledger/``, the experiment
copies under ``experiments/``) by :func:`read_finished_run`; the pytest plugin
(:mod:`chaosgate.checks_plugin`) hands it to test functions. Nothing here talks to a backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaosgate.chaos.experiments import ExperimentError, chaosgate_extension, load_experiment
from chaosgate.report.run_folder import RunFolder, read_run_folder
from chaosgate.report.timeline_data import experiment_spans
from chaosgate.vocabulary import ExpectedAlert, FaultWindow, LedgerEntry, in_fault

__all__ = ["FinishedRun", "RunExperiment", "read_finished_run"]


@dataclass(frozen=True)
class RunExperiment:
    """One experiment the run played: when its fault was in force, what it expected."""

    title: str
    started_at: float
    inject_at: float | None  # None: it injected nothing
    rollback_at: float | None  # None: its rollbacks did not finish
    status: str | None
    expected_alerts: tuple[ExpectedAlert, ...]  # from the run's copy of the file; () if none

    def fault_window(self, until: float) -> FaultWindow | None:
        """Its fault's window (to ``until`` when the rollbacks never finished), or None."""
        if self.inject_at is None:
            return None
        end = self.rollback_at if self.rollback_at is not None else until
        return FaultWindow(self.inject_at, end, self.title)


@dataclass(frozen=True)
class FinishedRun:
    """``folder`` as read (:class:`~chaosgate.report.run_folder.RunFolder`), and its
    experiments in the order they ran."""

    folder: RunFolder
    experiments: tuple[RunExperiment, ...]

    @property
    def summary(self) -> Mapping[str, Any]:
        return self.folder.summary

    @property
    def settings(self) -> Mapping[str, Any]:
        return self.folder.settings

    @property
    def seed(self) -> int | None:
        seed = self.settings.get("seed")
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else None

    @property
    def fault_windows(self) -> tuple[FaultWindow, ...]:
        until = self.folder.finished_at
        return tuple(w for e in self.experiments if (w := e.fault_window(until)) is not None)

    def ledger(
        self,
        *,
        scenario: str | None = None,
        route: str | None = None,
        since: float | None = None,
        until: float | None = None,
        in_faults: bool | None = None,
    ) -> list[LedgerEntry]:
        """The run's requests, those that match every filter given: the Locust user class,
        the route template, a start time within ``[since, until]``, and inside (True) or
        outside (False) the fault windows."""
        windows = self.fault_windows
        return [
            entry
            for entry in self.folder.ledger
            if (scenario is None or entry.scenario == scenario)
            and (route is None or entry.route == route)
            and (since is None or entry.started_at >= since)
            and (until is None or entry.started_at <= until)
            and (in_faults is None or in_fault(entry.started_at, windows) == in_faults)
        ]


def _expected_by_title(run_dir: Path) -> dict[str, tuple[ExpectedAlert, ...]]:
    """The expected alerts of each experiment copy the run kept, by the experiment's title."""
    found: dict[str, tuple[ExpectedAlert, ...]] = {}
    for path in sorted((run_dir / "experiments").glob("*.json")):
        try:
            experiment = load_experiment(path)
            expected = chaosgate_extension(experiment, source=str(path)).expected_alerts
        except ExperimentError:
            continue  # a copy this chaosgate cannot read: its experiment expects nothing here
        found[str(experiment.get("title", ""))] = expected
    return found


def read_finished_run(run_dir: Path) -> FinishedRun:
    """The run in ``run_dir``; :class:`~chaosgate.report.run_folder.RunFolderError` when it is
    not a run folder (the message says why)."""
    folder = read_run_folder(run_dir)
    expected = _expected_by_title(run_dir)
    experiments: Sequence[RunExperiment] = [
        RunExperiment(
            title=span.experiment,
            started_at=span.started_at,
            inject_at=span.inject_at,
            rollback_at=span.rollback_at,
            status=span.status,
            expected_alerts=expected.get(span.experiment, ()),
        )
        for span in experiment_spans(folder.timeline)
    ]
    return FinishedRun(folder, tuple(experiments))
