"""A profile's last runs, figure by figure: ``chaosgate trend REPORTS_DIR``.

:func:`find_runs` reads every run folder under a reports folder (each subfolder holding a
summary.json; a folder without one is no run and is passed over, a summary that cannot be
read is set aside with why, so one broken folder does not hide the others).
:func:`build_trend` then keeps the runs of one profile (by default the newest run's), orders
them by ``started_at`` and keeps the last N, and lines up the figures a nightly job watches
(:mod:`~chaosgate.report.run_figures`): each expected alert's seconds to fire, each
completeness ratio, each backend's ingest-lag p95, and each SLO's error ratio and p95. Each
series has one point per run (None when that run lacks the figure: an experiment added
later, an alert retired). The terminal lines (:func:`trend_lines`) and the page
(:mod:`~chaosgate.report.trend_html`) are drawn from that one :class:`Trend`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaosgate.report.compare import RunHeader, utc_text
from chaosgate.report.run_figures import (
    Better,
    FigureGroup,
    FigureKey,
    RunFigure,
    run_figures,
    value_text,
)
from chaosgate.report.run_folder import RunFolder, RunFolderError, read_run_folder
from chaosgate.report.text_table import subject_table, text_table

__all__ = [
    "DEFAULT_LAST",
    "TREND_MEASURES",
    "RunsFound",
    "Trend",
    "TrendError",
    "TrendSeries",
    "UnreadableRun",
    "build_trend",
    "find_runs",
    "load_trend",
    "trend_lines",
]

DEFAULT_LAST = 10

TREND_MEASURES: Mapping[FigureGroup, frozenset[str]] = {
    FigureGroup.ALERT: frozenset({"fired"}),
    FigureGroup.COMPLETENESS: frozenset({"ratio"}),
    FigureGroup.INGEST_LAG: frozenset({"p95"}),
    FigureGroup.SLO: frozenset({"error_ratio", "p95"}),
}
"""The figures a trend follows, by group (the rest are for ``compare``)."""

SECTION_TITLES: Mapping[FigureGroup, str] = {
    FigureGroup.ALERT: "expected alerts: seconds to fire",
    FigureGroup.COMPLETENESS: "completeness ratio",
    FigureGroup.INGEST_LAG: "ingest lag p95 (s)",
    FigureGroup.SLO: "SLOs: error ratio and p95 (s)",
}


class TrendError(Exception):
    """No trend can be drawn from what was given; the message says what to fix."""


@dataclass(frozen=True)
class UnreadableRun:
    path: Path
    problem: str  # RunFolderError's message


@dataclass(frozen=True)
class RunsFound:
    folders: tuple[RunFolder, ...]  # in the order of their folder names
    unreadable: tuple[UnreadableRun, ...]


def find_runs(reports_dir: Path) -> RunsFound:
    """Every run folder directly under ``reports_dir`` (summary.json read, no ledger)."""
    if not reports_dir.is_dir():
        what = "does not exist" if not reports_dir.exists() else "is not a folder"
        raise TrendError(
            f"reports folder {reports_dir} {what}: give the folder the runs write into "
            "(reports/, or run's --reports)"
        )
    folders, unreadable = [], []
    for path in sorted(reports_dir.iterdir()):
        if not path.is_dir() or not (path / "summary.json").is_file():
            continue
        try:
            folders.append(read_run_folder(path, with_ledger=False))
        except RunFolderError as exc:
            unreadable.append(UnreadableRun(path, str(exc)))
    return RunsFound(tuple(folders), tuple(unreadable))


@dataclass(frozen=True)
class TrendSeries:
    """One figure across the runs: ``points[i]`` is run i's figure, None when it lacks it."""

    group: FigureGroup
    subject: str
    measure: str
    unit: str
    better: Better
    limit: float | None  # the newest limit its checks named
    points: tuple[RunFigure | None, ...]

    @property
    def title(self) -> str:
        return f"{self.subject} {self.measure}"


@dataclass(frozen=True)
class Trend:
    profile: str
    runs: tuple[RunHeader, ...]  # oldest first
    series: tuple[TrendSeries, ...]  # by group (alerts, completeness, ingest lag, SLOs)
    replays_left_out: int = 0  # replays of this profile's runs found and not followed

    def series_of(self, group: FigureGroup) -> tuple[TrendSeries, ...]:
        return tuple(series for series in self.series if series.group is group)


def _followed(figure: RunFigure) -> bool:
    return figure.measure in TREND_MEASURES[figure.group]


def _series(folders: Sequence[RunFolder]) -> list[TrendSeries]:
    by_run = [
        {figure.key: figure for figure in run_figures(folder.checks) if _followed(figure)}
        for folder in folders
    ]
    keys: dict[FigureKey, None] = {}  # the newest run's order first, then older runs' others
    for figures in reversed(by_run):
        keys.update(dict.fromkeys(figures))
    series = []
    for key in keys:
        points = tuple(figures.get(key) for figures in by_run)
        known = [point for point in points if point is not None]
        newest = known[-1]
        limits = [point.limit for point in known if point.limit is not None]
        series.append(
            TrendSeries(
                group=newest.group,
                subject=newest.subject,
                measure=newest.measure,
                unit=newest.unit,
                better=newest.better,
                limit=limits[-1] if limits else None,
                points=points,
            )
        )
    order = {group: index for index, group in enumerate(FigureGroup)}
    return sorted(series, key=lambda item: order[item.group])


def build_trend(
    folders: Sequence[RunFolder], *, profile: str | None = None, last: int = DEFAULT_LAST
) -> Trend:
    """The last ``last`` runs of ``profile`` (None: the profile of the newest run) among
    ``folders``, oldest first, and their followed figures; TrendError when there is none."""
    if last < 1:
        raise TrendError(f"--last must be at least 1, not {last}")
    ordered = sorted(folders, key=lambda folder: (folder.started_at, folder.run_id))
    if not ordered:
        raise TrendError("there is no run folder (a folder holding a summary.json)")
    # a replay plays another run's load and faults again, on purpose, often on another day's
    # stack or with --faults-only: it is no point of the nightly's trend
    replays = [folder for folder in ordered if folder.replay_of is not None]
    ordered = [folder for folder in ordered if folder.replay_of is None]
    if not ordered:
        raise TrendError(
            f"there is no run folder other than {len(replays)} replay(s); a trend follows "
            "the runs of a profile, not their replays"
        )
    name = ordered[-1].profile_name if profile is None else profile
    chosen = [folder for folder in ordered if folder.profile_name == name][-last:]
    if not chosen:
        found = Counter(folder.profile_name for folder in ordered)
        profiles = ", ".join(f"{p} ({n} run{'s' * (n != 1)})" for p, n in sorted(found.items()))
        raise TrendError(f"no run of profile {name!r}; the runs found are of: {profiles}")
    return Trend(
        profile=name,
        runs=tuple(RunHeader.of(folder) for folder in chosen),
        series=tuple(_series(chosen)),
        replays_left_out=sum(1 for folder in replays if folder.profile_name == name),
    )


def load_trend(
    reports_dir: Path, *, profile: str | None = None, last: int = DEFAULT_LAST
) -> tuple[Trend, tuple[UnreadableRun, ...]]:
    """:func:`find_runs` then :func:`build_trend`: the trend and the folders set aside (a
    TrendError names ``reports_dir``)."""
    found = find_runs(reports_dir)
    try:
        trend = build_trend(found.folders, profile=profile, last=last)
    except TrendError as exc:
        raise TrendError(f"{reports_dir}: {exc}") from None
    return trend, found.unreadable


def trend_lines(trend: Trend) -> list[str]:
    """The trend as plain lines: the runs (numbered, oldest first), then each group's
    figures with one column per run."""
    count = len(trend.runs)
    lines = [f"profile {trend.profile}: the last {count} run{'s' * (count != 1)}, oldest first"]
    if trend.replays_left_out:
        lines.append(f"({trend.replays_left_out} replay(s) of its runs left out)")
    lines += text_table(
        ("#", "run", "started", "verdict", "checks"),
        [
            (str(index), run.run_id, utc_text(run.started_at), run.verdict, run.counts_text)
            for index, run in enumerate(trend.runs, start=1)
        ],
    )
    columns = [f"#{index}" for index in range(1, count + 1)]
    for group in FigureGroup:
        series = trend.series_of(group)
        if not series:
            continue
        rows = [
            (item.subject, (item.measure, *(value_text(point) for point in item.points)))
            for item in series
        ]
        lines += ["", SECTION_TITLES[group], *subject_table(("measure", *columns), rows)]
    return lines
