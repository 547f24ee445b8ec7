"""A completeness check's live count: at most one plain line per interval in a CI log (none for
a quick check), a bar on a terminal, and nothing that could fail the check it shows."""

from __future__ import annotations

import io
import re

from rich.console import Console
from rich.progress import TextColumn

from chaosgate.run.check_progress import FoundProgress, found_progress
from chaosgate.run.progress import Progress
from tests.support.clocks import FakeClock


def printer(*, terminal: bool, clock: FakeClock) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, force_terminal=terminal, width=120, color_system=None)
    return Progress(console, clock=clock), out


def lines(out: io.StringIO) -> list[str]:
    return [re.sub(r"^\s*[\d.]+s ", "", line).strip() for line in out.getvalue().splitlines()]


def test_plain_lines_at_most_every_interval_then_a_closing_line() -> None:
    clock = FakeClock(0.0)
    progress, out = printer(terminal=False, clock=clock)
    with FoundProgress(progress, "traces", line_every_s=10, clock=clock) as seen:
        for now, found in ((0, 0), (4, 120), (10, 300), (12, 500), (19, 640), (20, 812)):
            clock.now = float(now)
            seen(found, 1000)
        clock.now = 23.5
        seen(1000, 1000)
    assert lines(out) == [
        "traces: 300/1000 ids found",
        "traces: 812/1000 ids found",
        "traces: 1000/1000 ids found in 23.5 s",
    ]


def test_a_quick_check_adds_no_line_to_a_log() -> None:
    clock = FakeClock(0.0)
    progress, out = printer(terminal=False, clock=clock)
    with found_progress(progress, "logs", line_every_s=10) as seen:
        assert seen is not None
        seen(0, 50)
        seen(50, 50)
    assert out.getvalue() == ""


def test_without_a_printer_there_is_no_callback() -> None:
    with found_progress(None, "traces") as seen:
        assert seen is None


def test_a_terminal_gets_a_bar_that_vanishes_when_the_check_ends() -> None:
    clock = FakeClock(0.0)
    progress, out = printer(terminal=True, clock=clock)
    with FoundProgress(progress, "traces", clock=clock) as seen:
        seen(0, 1000)
        clock.now = 65.0
        seen(812, 1000)
    shown = out.getvalue()
    assert re.search(r"traces ━+ +812/1000 ids found 0:01:05", shown), shown
    assert "ids found in" not in shown  # the check's PASS / FAIL line says the rest
    assert shown.endswith("\x1b[2K")  # the bar's line erased


def test_a_failing_display_gives_up_and_never_reaches_the_check() -> None:
    clock = FakeClock(0.0)
    progress, out = printer(terminal=False, clock=clock)
    seen = FoundProgress(progress, "traces", line_every_s=0, clock=clock)
    out.close()  # the console's file went away: every print raises
    seen(1, 2)  # does not raise
    seen(2, 2)
    seen.close()
    seen.close()
    assert seen.error == "ValueError: I/O operation on closed file"


def test_a_check_bar_can_show_while_the_load_bar_still_does() -> None:
    clock = FakeClock(0.0)
    progress, out = printer(terminal=True, clock=clock)
    load = progress.bar(TextColumn("load bar"))  # a load bar nobody stopped yet
    load.add_task("load")
    load.start()
    try:
        with FoundProgress(progress, "traces", clock=clock) as seen:
            seen(2, 2)
    finally:
        load.stop()
    assert seen.error is None
    assert re.search(r"traces ━+ 2/2 ids found", out.getvalue())
