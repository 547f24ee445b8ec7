"""``chaosgate compare``'s page: a :class:`~chaosgate.report.compare.RunComparison` as one
self-contained HTML file.

Tables only (no chart, so no script at all): the two runs and their verdicts, every check's
status then and now (changed ones first, highlighted with the checks only one run has), then
each expected alert's latency per stage, completeness, ingest lag and the SLOs then and now,
each with its limit and the change, a change for the worse in red. Nothing on the page points
elsewhere (no src or href, no font or stylesheet fetched), and every value is escaped by the
template (:func:`~chaosgate.report.page_file.page_templates`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from assertions.result import Status
from chaosgate.report.compare import (
    CheckChange,
    FigurePair,
    RunComparison,
    RunHeader,
    header_rows,
    utc_text,
)
from chaosgate.report.page_file import page_templates, safe_file_part, write_page
from chaosgate.report.run_figures import FigureGroup, RunFigure, format_value, value_text
from chaosgate.vocabulary import Clock

__all__ = ["default_compare_path", "render_comparison_html", "write_comparison_html"]

_SECTIONS = (
    (FigureGroup.ALERT, "Expected alerts: latency per stage (s)", "alert", "alert checks"),
    (FigureGroup.COMPLETENESS, "Completeness", "check", "completeness checks"),
    (FigureGroup.INGEST_LAG, "Ingest lag (s)", "backend", "ingest-lag checks"),
    (FigureGroup.SLO, "SLOs: error ratio and p95 (s)", "check", "SLO checks"),
)
_VERDICTS = ("passed", "failed", "error")


def default_compare_path(run_b: Path, comparison: RunComparison) -> Path:
    """``RUN_B/compare-<run-a-id>.html``: the page lives with the newer run."""
    return run_b / f"compare-{safe_file_part(comparison.before.run_id)}.html"


def _status_class(figure: RunFigure | None) -> str:
    if figure is None:
        return "absent"
    return "" if figure.status is Status.PASSED else figure.status.value


def _figure_row(pair: FigurePair) -> dict[str, str]:
    figure = pair.figure
    return {
        "subject": figure.subject,
        "measure": figure.measure,
        "limit": "" if figure.limit is None else format_value(figure.limit, figure.unit),
        "before": value_text(pair.before),
        "after": value_text(pair.after),
        "before_status": _status_class(pair.before),
        "after_status": _status_class(pair.after),
        "delta": pair.delta_text,
        "direction": pair.direction,
    }


def _run(header: RunHeader) -> dict[str, str]:
    verdict = header.verdict
    return {"verdict": verdict, "verdict_class": verdict if verdict in _VERDICTS else "error"}


def _context(comparison: RunComparison, now: Clock) -> dict[str, Any]:
    then_run, now_run = comparison.before, comparison.after
    rows = header_rows(comparison)
    checks = [
        {
            "name": pair.name,
            "before": pair.before.value if pair.before else "absent",
            "after": pair.after.value if pair.after else "absent",
            "change": pair.change.value,
            "reason": pair.reason,
            "row_class": {"changed": "changed", "same": "same"}.get(pair.change.value, "only"),
        }
        for pair in comparison.checks
    ]
    sections = [
        {
            "id": group.value.replace(" ", "-"),
            "title": title,
            "subject": subject,
            "none": none,
            "rows": [_figure_row(pair) for pair in comparison.figures_of(group)],
        }
        for group, title, subject, none in _SECTIONS
    ]
    counts = ", ".join(f"{comparison.count(change)} {change.value}" for change in CheckChange)
    return {
        "title": f"chaosgate compare {then_run.run_id} → {now_run.run_id}",
        "then": _run(then_run),
        "now": _run(now_run),
        "verdict_changed": comparison.verdict_changed,
        "change_counts": counts,
        "written": utc_text(now()),
        "runs": rows,
        "checks": checks,
        "sections": sections,
    }


def render_comparison_html(comparison: RunComparison, *, now: Clock = time.time) -> str:
    """The comparison as one HTML document (``now``: the clock its "written" line reads)."""
    return page_templates().get_template("compare.html.j2").render(**_context(comparison, now))


def write_comparison_html(comparison: RunComparison, path: Path, *, now: Clock = time.time) -> Path:
    """Write the comparison's page to ``path`` (whole or not at all); ``path``."""
    return write_page(path, render_comparison_html(comparison, now=now))
