"""The figures a run measured, read from its checks: what comparisons and trends line up.

One :class:`RunFigure` per measured value, each named by its group, subject and measure so
that the same figure of two runs (or of ten) can be put side by side:

- ``alert``: every ``alert.<title>.<stage>`` check's ``latency_s``, where the stage is
  ``fired`` (seconds from inject until the watcher saw it in Alertmanager),
  ``notified.<receiver>`` (until that receiver got its firing notification), ``notified``
  (routed to no receiver: never a value) or ``resolved`` (seconds from the rollback). An alert
  that never fired has its check and no value;
- ``completeness``: the ``traces.completeness*`` checks and the other ``logs.*`` checks that
  report one (``logs.trace_id.completeness``): ``observed.ratio`` and the counts beside it
  (looked for, found, missing, incomplete);
- ``ingest lag``: ``traces.ingest_lag`` and ``logs.ingest_lag``'s observed p50 / p95 / max
  (the p95, which the check decides on, falls back to its ``latency_s``);
- ``slo``: every ``slo.*`` check's observed error ratio and p95 (``latency_s`` when the
  observation has no p95).

Each figure carries the limit its check held it to, when ``expected`` names one (an alert's
``within_s``, the ratio's ``ratio_at_least``, an SLO's ``max_error_ratio`` / ``max_p95_s``), and
which way is better, so a reader of two values can tell a regression from an improvement.
Values of the wrong type are no values: a summary written by another version reads as far as
it can.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from assertions.result import CheckResult, Status
from chaosgate.report.timeline_checks import ingest_lags, number

__all__ = [
    "Better",
    "FigureGroup",
    "FigureKey",
    "RunFigure",
    "alert_check_stage",
    "format_value",
    "run_figures",
    "value_text",
]

Better = Literal["lower", "higher", ""]  # "": neither (a count of what was looked for)
FigureKey = tuple[str, str, str]  # (group, subject, measure)

# the stage after the title; "notified" alone: the alert is routed to no receiver
_ALERT_CHECK = re.compile(r"^alert\.(?P<title>.+)\.(?P<stage>fired|resolved|notified(\.[^.]+)?)$")
_COMPLETENESS_COUNTS = ("looked_for", "found", "missing", "incomplete")
_COUNT_BETTER: Mapping[str, Better] = {
    "looked_for": "",
    "found": "higher",
    "missing": "lower",
    "incomplete": "lower",
}


class FigureGroup(StrEnum):
    ALERT = "alert"
    COMPLETENESS = "completeness"
    INGEST_LAG = "ingest lag"
    SLO = "slo"


@dataclass(frozen=True)
class RunFigure:
    """One value a run measured. ``value`` None: the check is there but recorded none (an
    alert that never fired, a check that could not observe)."""

    group: FigureGroup
    subject: str  # the alert's title, the check's name, or the backend ("traces", "logs")
    measure: str  # "fired", "notified.slack", "resolved", "ratio", "found", "p95", "error_ratio"
    unit: str  # "s", "ratio" or "count"
    better: Better
    value: float | None
    status: Status  # of the check the value comes from
    limit: float | None = None  # the bound the check held it to, when its expected names one

    @property
    def key(self) -> FigureKey:
        return (self.group.value, self.subject, self.measure)


def format_value(value: float | None, unit: str) -> str:
    """``value`` as a table shows it: seconds to 3 decimals, a ratio to 4, a count whole;
    "none" when the check recorded no value."""
    if value is None:
        return "none"
    if unit == "count":
        return f"{value:.0f}"
    return f"{value:.4f}" if unit == "ratio" else f"{value:.3f}"


def value_text(figure: RunFigure | None) -> str:
    """A figure's value as a cell: "-" when the run lacks it, the check's status beside a
    value whose check did not pass."""
    if figure is None:
        return "-"
    text = format_value(figure.value, figure.unit)
    return text if figure.status is Status.PASSED else f"{text} [{figure.status.value}]"


def alert_check_stage(name: str) -> tuple[str, str] | None:
    """``(title, stage)`` of an ``alert.<title>.<stage>`` check's name, else None."""
    match = _ALERT_CHECK.match(name)
    return None if match is None else (match["title"], match["stage"])


def _get(record: Any, key: str) -> Any:
    return record.get(key) if isinstance(record, Mapping) else None


def _alert_limit(check: CheckResult, stage: str) -> float | None:
    key = "resolved_within_s_of_rollback" if stage == "resolved" else "within_s"
    return number(_get(check.expected, key))


def _alert_figures(checks: Sequence[CheckResult]) -> list[RunFigure]:
    figures = []
    for check in checks:
        parts = alert_check_stage(check.name)
        if parts is None:
            continue
        title, stage = parts
        figures.append(
            RunFigure(
                FigureGroup.ALERT,
                title,
                stage,
                "s",
                "lower",
                check.latency_s,
                check.status,
                _alert_limit(check, stage),
            )
        )
    return figures


def _is_completeness(check: CheckResult) -> bool:
    if check.name.startswith("traces.completeness"):
        return True
    return (
        check.name.startswith("logs.")
        and check.name != "logs.ingest_lag"
        and (check.name.endswith("completeness") or _get(check.observed, "ratio") is not None)
    )


def _completeness_figures(checks: Sequence[CheckResult]) -> list[RunFigure]:
    figures = []
    for check in filter(_is_completeness, checks):
        observed = check.observed
        limit = number(_get(check.expected, "ratio_at_least"))
        ratio = number(_get(observed, "ratio"))
        figures.append(
            RunFigure(
                FigureGroup.COMPLETENESS,
                check.name,
                "ratio",
                "ratio",
                "higher",
                ratio,
                check.status,
                limit,
            )
        )
        for count in _COMPLETENESS_COUNTS:
            value = number(_get(observed, count))
            if value is not None:
                figures.append(
                    RunFigure(
                        FigureGroup.COMPLETENESS,
                        check.name,
                        count,
                        "count",
                        _COUNT_BETTER[count],
                        value,
                        check.status,
                    )
                )
    return figures


def _ingest_lag_figures(checks: Sequence[CheckResult]) -> list[RunFigure]:
    latency = {check.name: check.latency_s for check in checks}
    figures = []
    for lag in ingest_lags(checks, origin=0.0):
        p95 = lag.p95_s if lag.p95_s is not None else latency.get(lag.check)
        for measure, value in (("p50", lag.p50_s), ("p95", p95), ("max", lag.max_s)):
            if value is None and measure != "p95":
                continue
            figures.append(
                RunFigure(
                    FigureGroup.INGEST_LAG, lag.backend, measure, "s", "lower", value, lag.status
                )
            )
    return figures


def _slo_figures(checks: Sequence[CheckResult]) -> list[RunFigure]:
    figures = []
    for check in checks:
        if not check.name.startswith("slo."):
            continue
        ratio = number(_get(check.observed, "error_ratio"))
        p95 = number(_get(check.observed, "p95_s"))
        if p95 is None:
            p95 = check.latency_s
        for measure, unit, value, limit_key in (
            ("error_ratio", "ratio", ratio, "max_error_ratio"),
            ("p95", "s", p95, "max_p95_s"),
        ):
            figures.append(
                RunFigure(
                    FigureGroup.SLO,
                    check.name,
                    measure,
                    unit,
                    "lower",
                    value,
                    check.status,
                    number(_get(check.expected, limit_key)),
                )
            )
    return figures


def run_figures(checks: Sequence[CheckResult]) -> list[RunFigure]:
    """Every figure of a run's checks: alerts, completeness, ingest lag, SLOs, each group in
    the order of its checks."""
    return [
        *_alert_figures(checks),
        *_completeness_figures(checks),
        *_ingest_lag_figures(checks),
        *_slo_figures(checks),
    ]
