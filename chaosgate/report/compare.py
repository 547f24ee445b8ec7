"""Two runs side by side, as data: ``chaosgate compare RUN_A RUN_B``.

:func:`compare_runs` pairs two run folders' summaries (:class:`RunFolder`, read with
:func:`~chaosgate.report.run_folder.read_run_folder`) into one frozen
:class:`RunComparison`; the terminal lines (:func:`comparison_lines`) and the HTML page
(:mod:`~chaosgate.report.compare_html`) are both drawn from it, and nothing here reads or
writes a file.

What is compared: the verdicts; every check's status then (run A) and now (run B), the ones
whose status changed first, then the ones only one run has, then the rest; and every figure
the runs measured (:mod:`~chaosgate.report.run_figures`: each expected alert's latency per
stage, completeness, ingest lag, the SLOs' error ratio and p95) paired by what it measures,
with the change and whether it is for the better. A figure only one run has is paired with
nothing. A comparison is information, not a verdict: it judges nothing again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import cast

from assertions.result import Status
from chaosgate.report.run_figures import (
    FigureGroup,
    FigureKey,
    RunFigure,
    format_value,
    run_figures,
    value_text,
)
from chaosgate.report.run_folder import RunFolder
from chaosgate.report.summary import count_statuses
from chaosgate.report.text_table import subject_table, text_table

__all__ = [
    "CheckChange",
    "CheckPair",
    "FigurePair",
    "RunComparison",
    "RunHeader",
    "compare_runs",
    "comparison_lines",
    "header_rows",
    "utc_text",
]


def utc_text(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))


@dataclass(frozen=True)
class RunHeader:
    """What a comparison or a trend says of a run besides its figures."""

    run_id: str
    profile: str
    verdict: str
    started_at: float
    counts: Mapping[str, int]  # status -> number of checks
    replay_of: str | None = None  # the run this one replayed (``chaosgate replay``)

    @classmethod
    def of(cls, folder: RunFolder) -> RunHeader:
        return cls(
            folder.run_id,
            folder.profile_name,
            folder.verdict,
            folder.started_at,
            count_statuses(folder.checks),
            folder.replay_of,
        )

    @property
    def counts_text(self) -> str:
        return ", ".join(f"{self.counts.get(status.value, 0)} {status.value}" for status in Status)


class CheckChange(StrEnum):
    CHANGED = "changed"
    ONLY_THEN = "only then"  # run A has it, run B does not
    ONLY_NOW = "only now"
    SAME = "same"


@dataclass(frozen=True)
class CheckPair:
    """One check's status then (run A) and now (run B); None: that run has no such check."""

    name: str
    before: Status | None
    after: Status | None
    reason: str  # why it did not pass now (then, for a check run B lacks); "" when it passed

    @property
    def change(self) -> CheckChange:
        if self.before is None:
            return CheckChange.ONLY_NOW
        if self.after is None:
            return CheckChange.ONLY_THEN
        return CheckChange.SAME if self.before is self.after else CheckChange.CHANGED


@dataclass(frozen=True)
class FigurePair:
    """One figure then and now; None: that run did not measure it (no such check)."""

    before: RunFigure | None
    after: RunFigure | None

    def __post_init__(self) -> None:
        if self.before is None and self.after is None:
            raise ValueError("a figure pair holds the figure of at least one run")

    @property
    def figure(self) -> RunFigure:
        """The run's figure that names it (now's when both have it)."""
        return self.after if self.after is not None else cast(RunFigure, self.before)

    @property
    def delta(self) -> float | None:
        """now - then, when both runs have a value."""
        then = None if self.before is None else self.before.value
        now = None if self.after is None else self.after.value
        return None if then is None or now is None else now - then

    @property
    def unchanged(self) -> bool:
        """Both runs have a value and they agree to the digits a table shows."""
        delta = self.delta
        unit = self.figure.unit
        return delta is not None and format_value(abs(delta), unit) == format_value(0.0, unit)

    @property
    def direction(self) -> str:
        """Whether now is "better", "worse" or the "same" as then, for a figure with a better
        side; "" otherwise (a value missing, or a count that is neither)."""
        delta, better = self.delta, self.figure.better
        if delta is None or not better:
            return ""
        if self.unchanged:
            return "same"
        return "better" if (delta < 0) == (better == "lower") else "worse"

    @property
    def delta_text(self) -> str:
        """The change as a cell: "+1.623 worse", "-0.0010 better", "+3", "same", or "" when
        a run lacks a value."""
        delta = self.delta
        if delta is None:
            return ""
        if self.unchanged:
            return "same"
        text = ("+" if delta > 0 else "-") + format_value(abs(delta), self.figure.unit)
        return f"{text} {self.direction}" if self.direction else text


@dataclass(frozen=True)
class RunComparison:
    before: RunHeader  # run A: "then"
    after: RunHeader  # run B: "now"
    checks: tuple[CheckPair, ...]  # changed first, then only then / only now, then the same
    figures: tuple[FigurePair, ...]  # by group (alerts, completeness, ingest lag, SLOs)

    def figures_of(self, group: FigureGroup) -> tuple[FigurePair, ...]:
        return tuple(pair for pair in self.figures if pair.figure.group is group)

    def count(self, change: CheckChange) -> int:
        return sum(1 for pair in self.checks if pair.change is change)

    @property
    def verdict_changed(self) -> bool:
        return self.before.verdict != self.after.verdict


_CHANGE_ORDER = {
    CheckChange.CHANGED: 0,
    CheckChange.ONLY_THEN: 1,
    CheckChange.ONLY_NOW: 1,
    CheckChange.SAME: 2,
}


def _check_pairs(before: RunFolder, after: RunFolder) -> list[CheckPair]:
    then = {check.name: check for check in before.checks}
    now = {check.name: check for check in after.checks}
    pairs = [
        CheckPair(
            name,
            then[name].status if name in then else None,
            check.status,
            check.reason,
        )
        for name, check in now.items()
    ]
    pairs += [
        CheckPair(name, check.status, None, check.reason)
        for name, check in then.items()
        if name not in now
    ]
    return sorted(pairs, key=lambda pair: _CHANGE_ORDER[pair.change])  # stable: run order kept


def _figure_pairs(before: RunFolder, after: RunFolder) -> list[FigurePair]:
    then = {figure.key: figure for figure in run_figures(before.checks)}
    now = {figure.key: figure for figure in run_figures(after.checks)}
    keys: list[FigureKey] = list(now) + [key for key in then if key not in now]
    pairs = [FigurePair(then.get(key), now.get(key)) for key in keys]
    order = {group: index for index, group in enumerate(FigureGroup)}
    return sorted(pairs, key=lambda pair: order[pair.figure.group])


def compare_runs(before: RunFolder, after: RunFolder) -> RunComparison:
    """Run A (``before``, "then") against run B (``after``, "now")."""
    return RunComparison(
        before=RunHeader.of(before),
        after=RunHeader.of(after),
        checks=tuple(_check_pairs(before, after)),
        figures=tuple(_figure_pairs(before, after)),
    )


def _status(status: Status | None) -> str:
    return "-" if status is None else status.value


_SECTIONS: Sequence[tuple[FigureGroup, str]] = (
    (FigureGroup.ALERT, "expected alerts: seconds to each stage"),
    (FigureGroup.COMPLETENESS, "completeness"),
    (FigureGroup.INGEST_LAG, "ingest lag (s)"),
    (FigureGroup.SLO, "SLOs: error ratio and p95 (s)"),
)


def header_rows(comparison: RunComparison) -> list[tuple[str, str, str]]:
    """The two runs side by side (the text's and the page's first table): id, profile, start,
    verdict, check counts, and which run each replayed when either is a replay."""
    then, now = comparison.before, comparison.after
    rows = [
        ("run", then.run_id, now.run_id),
        ("profile", then.profile, now.profile),
        ("started", utc_text(then.started_at), utc_text(now.started_at)),
        ("verdict", then.verdict, now.verdict),
        ("checks", then.counts_text, now.counts_text),
    ]
    if then.replay_of or now.replay_of:
        rows.append(("replay of", then.replay_of or "-", now.replay_of or "-"))
    return rows


def comparison_lines(comparison: RunComparison) -> list[str]:
    """The comparison as plain lines for the terminal: the two runs, every check's status
    then and now (with its reason), then each group of figures that either run has."""
    lines = text_table(("", "then (A)", "now (B)"), header_rows(comparison))
    counts = ", ".join(f"{comparison.count(change)} {change.value}" for change in CheckChange)
    lines += ["", f"checks ({counts})"]
    lines += text_table(
        ("then", "now", "check"),
        [
            (
                _status(pair.before),
                _status(pair.after),
                f"{pair.name}: {pair.reason}" if pair.reason else pair.name,
            )
            for pair in comparison.checks
        ],
    )
    for group, title in _SECTIONS:
        pairs = comparison.figures_of(group)
        if pairs:
            rows = [
                (
                    pair.figure.subject,
                    (
                        pair.figure.measure,
                        value_text(pair.before),
                        value_text(pair.after),
                        pair.delta_text,
                    ),
                )
                for pair in pairs
            ]
            lines += ["", title, *subject_table(("measure", "then", "now", "change"), rows)]
    return lines
