"""The timeline's "faults and alerts" panel (Bokeh): one row per fault, expected alert and
unexpected alert, on the shared time axis.

- a fault: a bar from inject to the end of its rollbacks;
- an expected alert: its due window, a bar from inject to its deadline (green when it fired
  in time, red when not, purple when the check could not tell), the resolve window from the
  rollback to the resolve deadline (blue, or as above when it did not pass), and a marker per
  moment: pending, firing (Prometheus' startsAt), seen in Alertmanager, each receiver's first
  firing notification (webhook ■, Slack ⬢, email ★), resolved and each resolved notification.
  A marker outlined in red belongs to a check that did not pass;
- an alert nobody expected: a bar from its start to its resolution (or the run's end),
  coloured by what happened to it (paged, inhibited, delivery unknown, in a fault window).

Rows are labelled short (the hover has the full title, labels and the checks' reasons).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bokeh.models import ColumnDataSource, FactorRange, HoverTool, Range1d

from assertions.result import Status
from chaosgate.report.timeline_checks import AlertLifecycle
from chaosgate.report.timeline_data import TimelineData
from chaosgate.report.timeline_panels import new_panel

__all__ = ["FAULT_FILL", "alert_panel", "plain_text", "row_labels"]

FAULT_FILL = "#ffcc80"
_RECEIVER_MARKERS = {"webhook": "square", "slack": "hex", "email": "star"}
_DUE_BAR = {Status.PASSED: "#c8e6c9", Status.FAILED: "#ffcdd2", Status.ERROR: "#e1bee7"}
_RESOLVE_PASSED = "#bbdefb"
_UNEXPECTED = {
    "paged": "#d50000",
    "inhibited": "#ff9800",
    "inhibited, delivery unknown": "#9c27b0",
    "in a fault window": "#ffb74d",
}
_ROW_LABEL_CHARS = 26
_LEGEND_COLUMNS = 6  # a row of this panel's many legend entries would overflow it
_BAR_COLUMNS = ("row", "left", "right", "fill", "kind", "title", "detail")
_MARK_COLUMNS = ("row", "t", "marker", "fill", "line", "width", "kind", "title", "detail")


def plain_text(text: str) -> str:
    """``text`` with TeX delimiters (``$$``, ``\\[``, ``\\(``) broken by a zero-width space:
    Bokeh typesets a label holding them with MathJax, which its page would fetch from a CDN."""
    for delimiter in ("$$", "\\[", "\\]", "\\(", "\\)"):
        text = text.replace(delimiter, delimiter[0] + "\u200b" + delimiter[1:])
    return text


def row_labels(titles: Sequence[str]) -> list[str]:
    """Short, unique row labels: cut at 26 characters, a repeat numbered (" #2"), no TeX."""
    labels: list[str] = []
    for title in map(plain_text, titles):
        label = title if len(title) <= _ROW_LABEL_CHARS else title[: _ROW_LABEL_CHARS - 1] + "…"
        base, count = label, 2
        while label in labels:
            label, count = f"{base} #{count}", count + 1
        labels.append(label)
    return labels


class _Columns:
    """A glyph's data source columns, filled one mark at a time."""

    def __init__(self, names: Sequence[str]) -> None:
        self.data: dict[str, list[Any]] = {name: [] for name in names}

    def add(self, **values: Any) -> None:
        for name, column in self.data.items():
            column.append(values[name])

    def __len__(self) -> int:
        return len(next(iter(self.data.values())))


# (kind, moment, marker, fill, the check it belongs to, what it is)
_Moment = tuple[str, float | None, str, str, str, str]


def _moments(life: AlertLifecycle) -> list[_Moment]:
    moments: list[_Moment] = [
        ("pending", life.pending_s, "circle", "#ffd54f", "fired", "pending in Prometheus"),
        ("firing", life.starts_s, "triangle", "#ff7043", "fired", "Prometheus startsAt"),
        ("seen in Alertmanager", life.seen_s, "diamond", "#e53935", "fired", "first poll"),
    ]
    for receiver, at in life.notified_s.items():
        marker = _RECEIVER_MARKERS.get(receiver, "square_pin")
        what = "first firing notification"
        moments.append(
            (f"notified {receiver}", at, marker, "#1e88e5", f"notified.{receiver}", what)
        )
    moments.append(("resolved", life.resolved_s, "circle_x", "#43a047", "resolved", "resolved"))
    for receiver, at in life.resolved_notified_s.items():
        marker = _RECEIVER_MARKERS.get(receiver, "square_pin")
        what = "first resolved notification"
        moments.append((f"resolved note {receiver}", at, marker, "#a5d6a7", "resolved", what))
    return moments


def _alert_marks(row: str, life: AlertLifecycle, bars: _Columns, marks: _Columns) -> None:
    reasons = "; ".join(reason for _, reason in life.checks.values() if reason) or "-"
    if life.inject_s is not None and life.deadline_s is not None:
        status = life.checks.get("fired", (Status.ERROR, ""))[0]
        bars.add(
            row=row,
            left=life.inject_s,
            right=life.deadline_s,
            fill=_DUE_BAR[status],
            kind="alert due: inject → deadline",
            title=life.title,
            detail=reasons,
        )
    if life.rollback_s is not None and life.resolve_deadline_s is not None:
        status = life.checks.get("resolved", (Status.ERROR, ""))[0]
        fill = _RESOLVE_PASSED if status is Status.PASSED else _DUE_BAR[status]
        bars.add(
            row=row,
            left=life.rollback_s,
            right=life.resolve_deadline_s,
            fill=fill,
            kind="resolve: rollback → deadline",
            title=life.title,
            detail=reasons,
        )
    for kind, at, marker, fill, check, what in _moments(life):
        if at is None:
            continue
        status = life.checks.get(check, (Status.PASSED, ""))[0]
        failed = status is not Status.PASSED
        marks.add(
            row=row,
            t=at,
            marker=marker,
            fill=fill,
            kind=kind,
            title=life.title,
            line="#d50000" if failed else "#333333",
            width=2.5 if failed else 0.8,
            detail=f"{what}; check alert.….{check}: {status.value}",
        )


def alert_panel(data: TimelineData, x_range: Range1d) -> Any | None:
    """The panel, or None when the run has no fault and no alert to show."""
    titles = [f"fault {span.name}" for span in data.faults]
    titles += [life.title for life in data.alerts]
    titles += [f"unexpected {alert.alertname}" for alert in data.unexpected]
    if not titles:
        return None
    rows = row_labels(titles)
    fault_rows = rows[: len(data.faults)]
    alert_rows = rows[len(fault_rows) : len(fault_rows) + len(data.alerts)]
    unexpected_rows = rows[len(fault_rows) + len(alert_rows) :]
    bars, marks = _Columns(_BAR_COLUMNS), _Columns(_MARK_COLUMNS)
    for row, span in zip(fault_rows, data.faults, strict=True):
        detail = (span.status or "status unknown") + ("" if span.rolled_back else ", no rollback")
        bars.add(
            row=row,
            left=span.start_s,
            right=span.end_s,
            fill=FAULT_FILL,
            kind="fault: inject → rollback",
            title=span.title,
            detail=detail,
        )
    for row, life in zip(alert_rows, data.alerts, strict=True):
        _alert_marks(row, life, bars, marks)
    for row, alert in zip(unexpected_rows, data.unexpected, strict=True):
        still = alert.end_s is None
        bars.add(
            row=row,
            left=alert.start_s,
            right=data.end_s if still else alert.end_s,
            fill=_UNEXPECTED.get(alert.kind, "#ff9800"),
            kind=f"unexpected: {alert.kind}",
            title=", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())),
            detail=f"listed by {alert.check}" + ("; still firing at the end" if still else ""),
        )
    panel = new_panel(
        "faults and alerts",
        x_range,
        120 + 24 * len(rows),
        legend_columns=_LEGEND_COLUMNS,
        y_range=FactorRange(factors=list(reversed(rows))),
    )
    tooltips = [("", "@title"), ("what", "@kind"), ("detail", "@detail")]
    if len(bars):
        glyph = panel.hbar(
            y="row",
            left="left",
            right="right",
            height=0.7,
            fill_color="fill",
            line_color="#9e9e9e",
            source=ColumnDataSource(bars.data),
            legend_group="kind",
        )
        spans = [("from", "@left{0.0} s"), ("to", "@right{0.0} s")]
        panel.add_tools(HoverTool(renderers=[glyph], tooltips=[*tooltips, *spans]))
    if len(marks):
        glyph = panel.scatter(
            x="t",
            y="row",
            marker="marker",
            size=11,
            fill_color="fill",
            line_color="line",
            line_width="width",
            source=ColumnDataSource(marks.data),
            legend_group="kind",
        )
        panel.add_tools(HoverTool(renderers=[glyph], tooltips=[*tooltips, ("at", "@t{0.0} s")]))
    panel.yaxis.major_label_text_font_size = "8pt"
    return panel
