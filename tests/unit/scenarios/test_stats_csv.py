"""Locust's stats CSV written by Locust's own writer holds the last requests of a run that ends
normally (scenarios.stats_csv), and a signalled shutdown does not wait for it."""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import gevent
from locust.env import Environment
from locust.event import Events
from locust.stats import PERCENTILES_TO_REPORT, StatsCSVFileWriter

from scenarios.stats_csv import settle_stats_csv_on_quit


def _environment(prefix: Path | None) -> Environment:
    options = argparse.Namespace(csv_prefix=str(prefix) if prefix else None)
    environment = Environment(events=Events(), parsed_options=options)  # type: ignore[no-untyped-call]
    environment.create_local_runner()
    return environment


def _aggregated(prefix: Path) -> int:
    with Path(f"{prefix}_stats.csv").open() as stats:
        rows = [row for row in csv.DictReader(stats) if row["Name"] == "Aggregated"]
    return int(rows[0]["Request Count"]) if rows else 0


def _run_and_quit(tmp_path: Path, *, settle: bool, signalled: bool = False) -> tuple[int, float]:
    prefix = tmp_path / "run"
    environment = _environment(prefix)
    writer = StatsCSVFileWriter(environment, PERCENTILES_TO_REPORT, str(prefix), False)
    if settle:
        settle_stats_csv_on_quit(environment)
    writing = gevent.spawn(writer.stats_writer)
    gevent.sleep(0.05)  # its first write: no request yet
    environment.events.request.fire(  # type: ignore[no-untyped-call]
        request_type="GET", name="/api/menu", response_time=3.0, response_length=10,
        response=None, context={}, exception=None,
    )  # fmt: skip
    if signalled:
        environment.events.quitting.fire(environment=environment)  # type: ignore[no-untyped-call]
    began = time.monotonic()
    assert environment.runner is not None
    environment.runner.quit()
    waited = time.monotonic() - began
    writer.close_files()
    writing.kill()
    return _aggregated(prefix), waited


def test_a_normal_end_leaves_the_last_request_in_locusts_csv(tmp_path: Path) -> None:
    assert _run_and_quit(tmp_path, settle=True)[0] == 1


def test_without_it_locusts_csv_misses_the_last_request(tmp_path: Path) -> None:
    """What the wait is for: Locust alone closes the file before writing the last stats."""
    assert _run_and_quit(tmp_path, settle=False)[0] == 0


def test_a_signalled_shutdown_does_not_wait(tmp_path: Path) -> None:
    _count, waited = _run_and_quit(tmp_path, settle=True, signalled=True)
    assert waited < 0.5


def test_a_run_without_csv_is_left_alone() -> None:
    environment = _environment(None)
    assert environment.runner is not None
    quit_before = environment.runner.quit
    settle_stats_csv_on_quit(environment)
    assert environment.runner.quit == quit_before
