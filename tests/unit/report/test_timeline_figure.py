"""The timeline's figure: which panels a run gets, one shared x range, the faults shaded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bokeh.models import GridPlot, Range1d
from bokeh.models.annotations.geometry import BoxAnnotation

from assertions.result import Status
from chaosgate.report.run_folder import read_run_folder
from chaosgate.report.timeline_checks import IngestLag
from chaosgate.report.timeline_data import TimelineData, timeline_data
from chaosgate.report.timeline_figure import timeline_figure
from chaosgate.report.timeline_panels import ingest_panel
from tests.unit.report.run_fixture import START, write_run_folder


def _panels(grid: Any) -> list[Any]:
    assert isinstance(grid, GridPlot)
    return [child for child, *_ in grid.children]


def test_a_full_run_gets_five_panels_on_one_x_range_each_with_the_fault_shaded(
    tmp_path: Path,
) -> None:
    data = timeline_data(read_run_folder(write_run_folder(tmp_path)))
    panels = _panels(timeline_figure(data))
    titles = [panel.title.text for panel in panels]
    assert titles == [
        "requests per second",
        "error ratio per second (no response or 5xx)",
        "p95 latency of answered requests",
        "faults and alerts",
        "ingest lag: request end → searchable",
    ]
    assert len({id(panel.x_range) for panel in panels}) == 1  # zooming one zooms all
    for panel in panels:
        (shade,) = [a for a in panel.center if isinstance(a, BoxAnnotation)]
        assert (shade.left, shade.right) == (30.0, 60.0)
    rows = list(panels[3].y_range.factors)
    assert rows[-1] == "fault kill-users-service" and len(rows) == 4


def test_nothing_to_draw_is_no_figure_and_an_empty_lag_check_no_panel() -> None:
    assert timeline_figure(TimelineData(origin=START, end_s=0.2)) is None
    empty = IngestLag("traces", "traces.ingest_lag", Status.ERROR, None, None, None, None)
    data = TimelineData(origin=START, end_s=10.0, ingest=[empty])
    assert ingest_panel(data, Range1d(start=0, end=10)) is None
    assert timeline_figure(data) is None
