"""``chaosgate report RUN_DIR``: rewrite a run folder's report.html, junit.xml and
allure-results/ from its summary.json (:mod:`chaosgate.report.rewrite`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaosgate.cli_common import print_plain

__all__ = ["report_command"]


def report_command(
    run_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            help="The folder of one run, reports/<run-id>/, holding its summary.json.",
            show_default=False,
        ),
    ],
) -> None:
    """Write report.html, junit.xml and allure-results/ again from RUN_DIR/summary.json
    (and the page's timeline from RUN_DIR/ledger/); exit 2 when RUN_DIR is no run folder."""
    from chaosgate.report.rewrite import rewrite_reports  # Bokeh loads only for this command

    for path in rewrite_reports(run_dir):
        print_plain(f"wrote {path}")
