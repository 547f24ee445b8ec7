"""The run's live output prints a check's name and reason as they are: a backend's answer
quoted in a reason may hold rich markup ("[/x]", "[bold]"), which must neither crash the run
nor change what is shown."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.progress import MofNCompleteColumn, TextColumn

from assertions.result import CheckResult, Status
from chaosgate.run.progress import Progress


def test_a_reason_quoting_markup_is_printed_literally() -> None:
    out = io.StringIO()
    progress = Progress(Console(file=out, width=300, color_system=None), clock=lambda: 0.0)
    reason = "sink at http://127.0.0.1:9095/notifications: HTTP 502: '[/x] [bold]oops'"
    progress.check(CheckResult("alerts.grouping[1]", Status.ERROR, None, None, reason))
    assert out.getvalue().strip() == f"0.0s ERROR alerts.grouping[1]: {reason}"


def test_bars_only_where_they_can_redraw_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    assert Progress(Console(file=io.StringIO(), force_terminal=True)).shows_bars
    assert not Progress(Console(file=io.StringIO(), force_terminal=False)).shows_bars
    monkeypatch.setenv("TERM", "dumb")
    assert not Progress(Console(file=io.StringIO(), force_terminal=True)).shows_bars


def test_a_bar_shares_the_console_and_the_runs_lines_print_above_it() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, color_system=None)
    progress = Progress(console, clock=lambda: 0.0)
    assert progress.console is console
    bar = progress.bar(TextColumn("{task.description}"), MofNCompleteColumn())
    task = bar.add_task("traces", total=10)
    bar.start()
    bar.update(task, completed=4, refresh=True)
    progress.info("a line meanwhile")
    bar.stop()
    shown = out.getvalue()
    assert "traces  4/10" in shown
    assert shown.index("a line meanwhile") > shown.index("traces  4/10")
    assert "0.0s   a line meanwhile\n" in shown
    assert shown.endswith("\x1b[2K")  # transient: the bar's line is erased at the end
