"""The load phase's live figures, read from a ledger written here as Locust would write it: plain
lines with the right figures when the output is not a terminal, a bar when it is, and a
``stop()`` that ends the view cleanly whatever happened to its thread."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterable
from pathlib import Path

import pytest
from rich.console import Console

from chaosgate.run.load_progress import LoadFigures, LoadProgress
from chaosgate.run.progress import Progress
from chaosgate.vocabulary import LedgerEntry
from tests.support.clocks import FakeClock
from tests.support.waiting import wait_until
from tests.unit.assertions.support import entry

IDLE_S = 3600.0  # the thread sleeps on its stop event this long: only the test ticks


def console(*, terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=150, color_system=None), out


def append(path: Path, entries: Iterable[LedgerEntry], *, tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as ledger:
        ledger.write("".join(item.to_json() + "\n" for item in entries) + tail)


def requests(count: int, *, status: int = 200, first: int = 0) -> list[LedgerEntry]:
    return [entry(first + n, status=status) for n in range(count)]


def lines(out: io.StringIO) -> list[str]:
    return [re.sub(r"^\s*[\d.]+s ", "", line).strip() for line in out.getvalue().splitlines()]


def no_progress_thread_left() -> bool:
    return not any(t.name == "chaosgate-load-progress" for t in threading.enumerate())


def test_plain_lines_carry_the_figures_of_the_growing_ledger(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    term, out = console(terminal=False)
    ledger = tmp_path / "ledger"
    first, second = ledger / "ledger-h-1.jsonl", ledger / "ledger-h-2.jsonl"  # two processes
    view = LoadProgress(
        Progress(term, clock=clock), ledger, 120, line_every_s=10, refresh_s=IDLE_S, clock=clock
    )
    try:
        view.start()
        append(first, [*requests(300), *requests(5, status=0), *requests(5, status=503)])
        append(second, [*requests(35, status=404), *requests(5, status=200)])
        clock.now = 10.0
        view.update()
        # a line Locust is still writing is not counted until it ends with its newline
        half = entry(9999).to_json()
        append(second, requests(50), tail=half[:40])
        clock.now = 15.0
        view.update()  # no line: the last one is 5 s old
        append(second, [], tail=half[40:] + "\n")
        append(first, requests(99, status=502))
        clock.now = 20.0
        figures = view.update()
    finally:
        closing = view.stop()
    assert lines(out) == [
        "load: 10/120 s (110 s left), 350 requests, 35.0 req/s, 10 errors (2.9 %)",
        "load: 20/120 s (100 s left), 500 requests, 15.0 req/s, 109 errors (21.8 %)",
        "load: 20 s, 500 requests, 25.0 req/s on average, 109 errors (21.8 %)",
    ]
    assert figures == closing == LoadFigures(20.0, 120, 500, 109, 15.0, 25.0)
    assert no_progress_thread_left()


def test_the_rate_is_recent_and_the_time_left_stops_at_zero(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    term, out = console(terminal=False)
    path = tmp_path / "ledger" / "ledger-h-1.jsonl"
    view = LoadProgress(
        Progress(term, clock=clock),
        path.parent,
        30,
        line_every_s=0,
        refresh_s=IDLE_S,
        window_s=10,
        clock=clock,
    )
    with view:
        for second, count in ((10, 400), (20, 400), (30, 0), (40, 0)):
            append(path, requests(count, first=second * 1000))
            clock.now = float(second)
            view.update()
    assert lines(out) == [
        "load: 10/30 s (20 s left), 400 requests, 40.0 req/s, 0 errors (0.0 %)",
        "load: 20/30 s (10 s left), 800 requests, 40.0 req/s, 0 errors (0.0 %)",
        "load: 30/30 s (0 s left), 800 requests, 0.0 req/s, 0 errors (0.0 %)",
        "load: past the 30 s, 800 requests, 0.0 req/s, 0 errors (0.0 %)",
        "load: 40 s, 800 requests, 20.0 req/s on average, 0 errors (0.0 %)",
    ]


def test_before_any_request_there_is_no_error_ratio(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    term, out = console(terminal=False)
    view = LoadProgress(
        Progress(term, clock=clock),
        tmp_path / "not-yet",  # Locust has not created the ledger folder yet
        60,
        line_every_s=5,
        refresh_s=IDLE_S,
        clock=clock,
    )
    with view:
        clock.now = 5.0
        view.update()
    assert lines(out) == [
        "load: 5/60 s (55 s left), 0 requests, 0.0 req/s, 0 errors",
        "load: 5 s, 0 requests, 0.0 req/s on average, 0 errors",
    ]


def test_a_terminal_gets_a_bar_beside_the_runs_lines(tmp_path: Path) -> None:
    clock = FakeClock(0.0)
    term, out = console(terminal=True)
    printer = Progress(term, clock=clock)
    path = tmp_path / "ledger" / "ledger-h-1.jsonl"
    view = LoadProgress(printer, path.parent, 120, line_every_s=0, refresh_s=IDLE_S, clock=clock)
    with view:
        append(path, [*requests(79), entry(500, status=0)])
        clock.now = 40.0
        view.update()
        printer.step("experiment kill-users-service: injecting")
    shown = out.getvalue()
    bar = re.search(r"load (━+) +40/120 s \(80 s left\), 80 requests", shown)
    assert bar is not None, shown
    assert len(bar[1]) == 13  # a third of rich's 40 columns
    assert "2.0 req/s, 1 errors (1.2 %)" in shown
    assert "> experiment kill-users-service: injecting" in shown
    assert "load: 40/120" not in shown  # the figures are the bar, not plain lines
    assert "load: 40 s, 80 requests, 2.0 req/s on average, 1 errors (1.2 %)" in shown
    assert "\x1b[?25h" in shown  # the bar gave the cursor back


def test_a_thread_that_raised_leaves_one_line_and_stop_still_works(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    (ledger / "ledger-h-1.jsonl").mkdir(parents=True)  # cannot be opened as a file
    term, out = console(terminal=True)
    view = LoadProgress(Progress(term), ledger, 60, refresh_s=0.01)
    try:
        view.start()
        wait_until(lambda: view.error, timeout_s=5, interval_s=0.01, message="the thread's error")
    finally:
        assert view.stop() is None
    assert view.stop() is None  # idempotent
    assert view.error is not None and view.error.startswith("IsADirectoryError")
    shown = out.getvalue()
    assert "load: live figures stopped (IsADirectoryError" in shown
    assert "the load goes on" in shown
    assert "on average" not in shown  # no closing figures it could not read
    assert "\x1b[?25h" in shown
    assert no_progress_thread_left()


def test_its_own_thread_reads_the_ledger_and_stop_ends_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger" / "ledger-h-1.jsonl"
    term, out = console(terminal=False)
    with (
        pytest.raises(RuntimeError, match="the run failed"),
        LoadProgress(Progress(term), path.parent, 60, line_every_s=0, refresh_s=0.01) as view,
    ):
        append(path, requests(7))
        wait_until(
            lambda: view.figures is not None and view.figures.requests >= 7,
            timeout_s=5,
            interval_s=0.01,
            message=lambda: f"the figures of 7 requests; they are {view.figures}",
        )
        append(path, requests(3, status=500))
        raise RuntimeError("the run failed")
    assert re.search(r"load: \d+/60 s \(\d+ s left\), 7 requests", out.getvalue())
    assert re.fullmatch(
        r"load: \d+ s, 10 requests, [\d.]+ req/s on average, 3 errors \(30.0 %\)", lines(out)[-1]
    )
    assert no_progress_thread_left()


def test_stop_before_start_prints_nothing_and_settings_are_checked(tmp_path: Path) -> None:
    term, out = console(terminal=False)
    view = LoadProgress(Progress(term), tmp_path, 60)
    assert view.stop() is None
    assert out.getvalue() == ""
    with pytest.raises(ValueError, match="positive duration"):
        LoadProgress(Progress(term), tmp_path, 0)
    with pytest.raises(ValueError, match="not negative"):
        LoadProgress(Progress(term), tmp_path, 60, line_every_s=-1)


def test_a_view_runs_once(tmp_path: Path) -> None:
    term, _ = console(terminal=False)
    view = LoadProgress(Progress(term), tmp_path, 60, refresh_s=IDLE_S).start()
    with pytest.raises(RuntimeError, match="make a new one"):
        view.start()
    view.stop()
    with pytest.raises(RuntimeError, match="make a new one"):
        view.start()
    assert no_progress_thread_left()
