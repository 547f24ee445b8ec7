"""The run's timeline drawn with Bokeh: stacked panels on one shared, zoomable time axis.

Panels, top to bottom, each present only when the run has its data: requests per second, error
ratio per second and p95 latency (:mod:`~chaosgate.report.timeline_panels`, from the ledger),
the faults and alerts (:mod:`~chaosgate.report.timeline_alert_panel`) and the ingest lag of
traces and logs. Every fault window is shaded across all panels, labelled with its experiment
in the top one, and has a labelled row of its own in the faults and alerts panel. Dragging
zooms into a stretch of time on every panel at once (they share one x range); the reset tool
shows the whole run again. The input is
:class:`~chaosgate.report.timeline_data.TimelineData`; nothing here reads files.
"""

from __future__ import annotations

import time
from typing import Any

from bokeh.layouts import gridplot
from bokeh.models import Range1d
from bokeh.models.annotations.geometry import BoxAnnotation
from bokeh.models.annotations.labels import Label
from bokeh.models.layouts import LayoutDOM

from chaosgate.report.timeline_alert_panel import FAULT_FILL, alert_panel, plain_text
from chaosgate.report.timeline_data import TimelineData
from chaosgate.report.timeline_panels import LABEL_HEADROOM, ingest_panel, load_panels

__all__ = ["timeline_figure"]


def _shade_faults(panels: list[Any], data: TimelineData, *, labelled: bool) -> None:
    """Shade every fault window on every panel; with ``labelled``, name each in the top panel
    (the requests panel, whose y range leaves room above the peak), at three staggered
    heights so that close windows stay legible."""
    for panel in panels:
        for span in data.faults:
            shade = BoxAnnotation(
                left=span.start_s,
                right=span.end_s,
                fill_color=FAULT_FILL,
                fill_alpha=0.3,
                level="underlay",
            )
            panel.add_layout(shade)
    if not labelled:
        return
    top = panels[0].y_range.end / LABEL_HEADROOM
    for index, span in enumerate(data.faults):
        label = Label(
            x=span.start_s,
            y=top * (1.02 + 0.09 * (index % 3)),
            text=plain_text(span.name),
            text_font_size="8pt",
            text_color="#8d4b00",
            background_fill_color="white",
            background_fill_alpha=0.6,
        )
        panels[0].add_layout(label)


def timeline_figure(data: TimelineData) -> LayoutDOM | None:
    """The stacked panels, or None when the run has nothing to draw (no ledger, no fault,
    no alert and no ingest lag: e.g. a run interrupted in its warm-up)."""
    margin = max(data.end_s * 0.01, 1.0)
    low, high = -margin, data.end_s + margin
    x_range = Range1d(start=low, end=high, bounds=(low, high))
    panels = load_panels(data, x_range)
    panels += [
        panel
        for panel in (alert_panel(data, x_range), ingest_panel(data, x_range))
        if panel is not None
    ]
    if not panels:
        return None
    _shade_faults(panels, data, labelled=bool(data.rates))
    start = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(data.origin))
    panels[-1].xaxis.axis_label = f"seconds since the run started ({start})"
    grid = gridplot(
        [[panel] for panel in panels],
        merge_tools=True,
        toolbar_location="right",
        sizing_mode="stretch_width",
    )
    grid.toolbar.logo = None
    return grid
