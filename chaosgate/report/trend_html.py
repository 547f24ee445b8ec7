"""``chaosgate trend``'s page: a :class:`~chaosgate.report.trend.Trend` as one self-contained
HTML file a nightly job can publish.

From the top: the runs (numbered, oldest first, with their verdicts), one small Bokeh chart per
figure (each expected alert's seconds to fire, each completeness ratio, each ingest-lag p95,
each SLO's error ratio and p95), and the same figures as a table. A chart's x axis is the run
number (labelled with the run's start, the run id on hover), so runs a day or a minute apart
are as far apart; a point is coloured by its check's status, a run that lacks the figure
leaves a gap, and the limit the checks hold the figure to is a dashed line.

The page opens from disk with no network: Bokeh's script is inlined
(``bokeh.resources.INLINE``, as report.html's is) and nothing else is loaded. Every value is
escaped by the template, and a chart's text goes through
:func:`~chaosgate.report.timeline_alert_panel.plain_text` (no TeX for MathJax to fetch).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from bokeh.embed import components
from bokeh.embed.bundle import bundle_for_objs_and_resources
from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.models.annotations.geometry import Span
from bokeh.plotting import figure
from bokeh.resources import INLINE

from assertions.result import Status
from chaosgate.report.compare import utc_text
from chaosgate.report.page_file import page_templates, safe_file_part, write_page
from chaosgate.report.run_figures import FigureGroup, format_value, value_text
from chaosgate.report.timeline_alert_panel import plain_text
from chaosgate.report.trend import SECTION_TITLES, Trend, TrendSeries
from chaosgate.vocabulary import Clock

__all__ = ["default_trend_path", "render_trend_html", "trend_chart", "write_trend_html"]

_STATUS_COLOURS = {
    Status.PASSED: "#2e7d32",
    Status.FAILED: "#c62828",
    Status.ERROR: "#6a1b9a",
}
_LINE_COLOUR = "#607d8b"
_LIMIT_COLOUR = "#ef6c00"


def default_trend_path(reports_dir: Path, trend: Trend) -> Path:
    """``REPORTS_DIR/trend-<profile>.html``."""
    return reports_dir / f"trend-{safe_file_part(trend.profile)}.html"


def _tick(moment: float) -> str:
    return time.strftime("%m-%d %H:%M", time.gmtime(moment))


def trend_chart(trend: Trend, series: TrendSeries) -> Any:
    """One small chart of ``series``: its value per run (a gap where a run lacks it), each
    point in its check's status colour, the limit dashed."""
    numbers = list(range(1, len(trend.runs) + 1))
    values = [
        math.nan if point is None or point.value is None else point.value for point in series.points
    ]
    chart = figure(
        width=360,
        height=190,
        x_range=Range1d(start=0.5, end=len(numbers) + 0.5),
        toolbar_location=None,
        tools="",
    )
    chart.line(numbers, values, line_color=_LINE_COLOUR, line_width=1.5)
    marked = [
        (number, value, point)
        for number, value, point in zip(numbers, values, series.points, strict=True)
        if point is not None and not math.isnan(value)
    ]
    source = ColumnDataSource(
        {
            "x": [number for number, _, _ in marked],
            "y": [value for _, value, _ in marked],
            "colour": [_STATUS_COLOURS[point.status] for _, _, point in marked],
            "run": [plain_text(trend.runs[number - 1].run_id) for number, _, _ in marked],
            "text": [value_text(point) for _, _, point in marked],
        }
    )
    dots = chart.scatter("x", "y", source=source, size=7, fill_color="colour", line_color="colour")
    chart.add_tools(HoverTool(renderers=[dots], tooltips=[("run", "@run"), ("value", "@text")]))
    if series.limit is not None:
        chart.add_layout(
            Span(
                location=series.limit,
                dimension="width",
                line_color=_LIMIT_COLOUR,
                line_dash="dashed",
                line_width=1,
            )
        )
    chart.xaxis.ticker = numbers
    chart.xaxis.major_label_overrides = {
        number: _tick(run.started_at) for number, run in zip(numbers, trend.runs, strict=True)
    }
    chart.xaxis.major_label_orientation = 0.6
    chart.yaxis.axis_label = series.unit if series.unit != "count" else ""
    return chart


def _table_rows(series: TrendSeries) -> dict[str, Any]:
    return {
        "subject": series.subject,
        "measure": series.measure,
        "limit": "" if series.limit is None else format_value(series.limit, series.unit),
        "values": [
            {
                "text": value_text(point),
                "status": "absent" if point is None else point.status.value,
            }
            for point in series.points
        ],
    }


def _context(trend: Trend, now: Clock) -> dict[str, Any]:
    runs = [
        {
            "number": index,
            "run_id": run.run_id,
            "started": utc_text(run.started_at),
            "verdict": run.verdict,
            "verdict_class": run.verdict if run.verdict in ("passed", "failed") else "error",
            "counts": run.counts_text,
        }
        for index, run in enumerate(trend.runs, start=1)
    ]
    return {
        "title": f"chaosgate trend: {trend.profile}, the last {len(trend.runs)} runs",
        "profile": trend.profile,
        "runs": runs,
        "written": utc_text(now()),
    }


def render_trend_html(trend: Trend, *, now: Clock = time.time) -> str:
    """The trend as one HTML document (``now``: the clock its "written" line reads)."""
    groups = [(group, trend.series_of(group)) for group in FigureGroup]
    groups = [(group, series) for group, series in groups if series]
    charts = {
        f"chart{index}": trend_chart(trend, item)
        for index, item in enumerate(item for _, series in groups for item in series)
    }
    script, divs = components(charts) if charts else ("", {})
    # only the bundles these charts need (Bokeh's core), as report.html's file_html does
    bokeh_js, bokeh_css = bundle_for_objs_and_resources(list(charts.values()), INLINE)
    names = iter(divs[name] for name in charts)
    sections = [
        {
            "id": group.value.replace(" ", "-"),
            "title": SECTION_TITLES[group],
            "items": [{"div": next(names), **_table_rows(item)} for item in series],
        }
        for group, series in groups
    ]
    return (
        page_templates()
        .get_template("trend.html.j2")
        .render(
            **_context(trend, now),
            sections=sections,
            bokeh_resources=f"{bokeh_css}\n{bokeh_js}" if charts else "",
            plot_script=script,
        )
    )


def write_trend_html(trend: Trend, path: Path, *, now: Clock = time.time) -> Path:
    """Write the trend's page to ``path`` (whole or not at all); ``path``."""
    return write_page(path, render_trend_html(trend, now=now))
