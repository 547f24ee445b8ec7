"""The timeline's panels of measured series: load, errors, latency and ingest lag (Bokeh).

Every panel comes from :func:`new_panel`, so all share one look: the run's x range (zooming
one zooms all), the same left border (their plot areas line up), a legend above the plot
whose entries hide their line when clicked, and the x-only zoom and pan tools.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

from bokeh.models import ColumnDataSource, HoverTool, Range1d
from bokeh.models.annotations.legends import Legend
from bokeh.plotting import figure

from chaosgate.report.timeline_data import ALL_SCENARIOS, TimelineData

__all__ = ["LABEL_HEADROOM", "ingest_panel", "load_panels", "new_panel"]

LABEL_HEADROOM = 1.3
"""The requests panel's y range ends this much above the peak: room for the faults' labels."""

_SCENARIO_COLOURS = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_ALL_COLOUR = "#222222"
_LAG_COLOURS = {"traces": "#6a1b9a", "logs": "#ef6c00"}
_LEFT_BORDER = 190


def new_panel(
    title: str, x_range: Range1d, height: int, *, legend_columns: int | None = None, **extra: Any
) -> Any:
    """A panel on the shared ``x_range`` (bokeh's figure; ``extra`` goes to it), its legend
    in rows of ``legend_columns`` entries (None: one row)."""
    panel = figure(
        title=title,
        x_range=x_range,
        height=height,
        sizing_mode="stretch_width",
        tools="xbox_zoom,xpan,xwheel_zoom,reset,save",
        active_drag="xbox_zoom",
        min_border_left=_LEFT_BORDER,
        **extra,
    )
    legend = Legend(
        orientation="horizontal",
        click_policy="hide",
        label_text_font_size="8pt",
        spacing=4,
        ncols=legend_columns if legend_columns is not None else "auto",
    )
    panel.add_layout(legend, "above")
    return panel


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _clock(origin: float, t_s: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(origin + t_s)) + " UTC"


def _colours(names: Sequence[str]) -> dict[str, str]:
    others = [name for name in names if name != ALL_SCENARIOS]
    palette = {name: _SCENARIO_COLOURS[i % len(_SCENARIO_COLOURS)] for i, name in enumerate(others)}
    return {ALL_SCENARIOS: _ALL_COLOUR, **palette}


def _line_style(scenario: str, colours: dict[str, str]) -> dict[str, Any]:
    return {
        "color": colours.get(scenario, "#777777"),
        "line_width": 2.0 if scenario == ALL_SCENARIOS else 1.2,
        "legend_label": scenario,
    }


def load_panels(data: TimelineData, x_range: Range1d) -> list[Any]:
    """Requests per second, error ratio per second and p95 latency; none without a ledger."""
    if not data.rates:
        return []
    colours = _colours([series.scenario for series in data.rates])
    rps = new_panel("requests per second", x_range, 240, y_axis_label="req/s")
    peak = max((max(rate.requests_per_s, default=0.0) for rate in data.rates), default=0.0)
    # headroom above the peak for the fault windows' labels (timeline_figure puts them there)
    rps.y_range = Range1d(start=0.0, end=max(peak, 1.0) * LABEL_HEADROOM)
    errors = new_panel("error ratio per second (no response or 5xx)", x_range, 190)
    errors.y_range = Range1d(start=-0.02, end=1.02)
    for rate in data.rates:
        source = ColumnDataSource(
            {
                "t": list(rate.t_s),
                "clock": [_clock(data.origin, t) for t in rate.t_s],
                "rps": list(rate.requests_per_s),
                "ratio": [_nan(v) for v in rate.error_ratio],
            }
        )
        rps.line("t", "rps", source=source, **_line_style(rate.scenario, colours))
        errors.line("t", "ratio", source=source, **_line_style(rate.scenario, colours))
    rps.add_tools(HoverTool(tooltips=[("t", "@t{0} s (@clock)"), ("req/s", "@rps{0.0}")]))
    errors.add_tools(HoverTool(tooltips=[("t", "@t{0} s (@clock)"), ("errors", "@ratio{0.0%}")]))
    latency = new_panel("p95 latency of answered requests", x_range, 200, y_axis_label="s")
    for series in data.latencies:
        source = ColumnDataSource(
            {
                "t": list(series.t_s),
                "clock": [_clock(data.origin, t) for t in series.t_s],
                "p95": [_nan(v) for v in series.p95_s],
            }
        )
        latency.line("t", "p95", source=source, **_line_style(series.scenario, colours))
    latency.add_tools(HoverTool(tooltips=[("from", "@t{0} s (@clock)"), ("p95", "@p95{0.000} s")]))
    return [rps, errors, latency]


def ingest_panel(data: TimelineData, x_range: Range1d) -> Any | None:
    """Each backend's lag samples (when recorded), its p50 and p95, and the deadline; None
    when there is nothing of that."""
    if not data.ingest:
        return None
    panel = new_panel("ingest lag: request end → searchable", x_range, 210, y_axis_label="s")
    deadlines = set()
    for lag in data.ingest:
        colour = _LAG_COLOURS.get(lag.backend, "#555555")
        if lag.samples:
            panel.scatter(
                [t for t, _ in lag.samples],
                [v for _, v in lag.samples],
                size=4,
                color=colour,
                alpha=0.6,
                legend_label=f"{lag.backend} samples",
            )
        for name, value, dash in (("p50", lag.p50_s, "dotted"), ("p95", lag.p95_s, "solid")):
            if value is not None:
                panel.line(
                    [0.0, data.end_s],
                    [value, value],
                    color=colour,
                    line_dash=dash,
                    line_width=1.5,
                    legend_label=f"{lag.backend} {name} {value:.2f} s ({lag.status.value})",
                )
        if lag.deadline_s is not None:
            deadlines.add(lag.deadline_s)
    for deadline in sorted(deadlines):
        panel.line(
            [0.0, data.end_s],
            [deadline, deadline],
            color="#d50000",
            line_dash="dashed",
            legend_label=f"deadline {deadline:g} s",
        )
    return panel if panel.renderers else None  # checks that recorded no figure at all
