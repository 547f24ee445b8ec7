"""The commands that read run folders back:

- ``chaosgate report RUN_DIR``: rewrite a run folder's report.html, junit.xml and
  allure-results/ from its summary.json (:mod:`chaosgate.report.rewrite`);
- ``chaosgate compare RUN_A RUN_B``: two runs side by side, printed and written as one HTML
  file (:mod:`chaosgate.report.compare`, :mod:`chaosgate.report.compare_html`);
- ``chaosgate trend REPORTS_DIR``: a profile's last runs figure by figure, printed and
  written as one HTML file with a chart per figure (:mod:`chaosgate.report.trend`,
  :mod:`chaosgate.report.trend_html`).

Bad input (no such folder, no summary.json, one that is not JSON, no run of the profile, a
page path that cannot be written) is raised as the readers' own errors, which
:func:`chaosgate.cli.main` turns into one ``chaosgate: error:`` line and exit 2. A comparison
or a trend is information, not a verdict: both exit 0 whatever the runs' verdicts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from chaosgate.cli_common import print_plain
from chaosgate.cli_errors import one_line

__all__ = ["compare_command", "report_command", "trend_command"]

HtmlOption = Annotated[
    Path | None,
    typer.Option(
        "--html", help="Where to write the HTML page (its folder must exist).", show_default=False
    ),
]


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


def compare_command(
    run_a: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_A", help="The earlier run's folder ('then').", show_default=False
        ),
    ],
    run_b: Annotated[
        Path,
        typer.Argument(metavar="RUN_B", help="The later run's folder ('now').", show_default=False),
    ],
    html: HtmlOption = None,
) -> None:
    """Two runs side by side: every check's status, each expected alert's latency per stage,
    completeness, ingest lag, the SLOs and the verdicts, then and now. Printed, and written
    to RUN_B/compare-<run-a-id>.html (or --html); exit 0 whatever the verdicts."""
    from chaosgate.report.compare import compare_runs, comparison_lines
    from chaosgate.report.compare_html import default_compare_path, write_comparison_html
    from chaosgate.report.run_folder import read_run_folder

    comparison = compare_runs(
        read_run_folder(run_a, with_ledger=False), read_run_folder(run_b, with_ledger=False)
    )
    # the page first: it is there even when the reader of stdout stops early (| head)
    path = write_comparison_html(comparison, html or default_compare_path(run_b, comparison))
    for line in comparison_lines(comparison):
        print_plain(line)
    print_plain(f"wrote {path}")


def trend_command(
    reports_dir: Annotated[
        Path,
        typer.Argument(
            metavar="REPORTS_DIR",
            help="The folder the runs write into (reports/): each subfolder with a summary.json.",
            show_default=False,
        ),
    ],
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile", "-p", help="The profile whose runs to follow (default: the newest run's)."
        ),
    ] = None,
    last: Annotated[int, typer.Option("--last", min=1, help="How many of its runs.")] = 10,
    html: HtmlOption = None,
) -> None:
    """A profile's last runs: each expected alert's seconds to fire, completeness ratio,
    ingest-lag p95 and the SLOs per run. Printed, and written with a chart per figure to
    REPORTS_DIR/trend-<profile>.html (or --html); unreadable run folders are skipped with a
    warning; exit 0 whatever the verdicts."""
    from chaosgate.report.trend import load_trend, trend_lines
    from chaosgate.report.trend_html import default_trend_path, write_trend_html

    trend, unreadable = load_trend(reports_dir, profile=profile, last=last)
    for skipped in unreadable:
        sys.stderr.write(
            "chaosgate: warning: " + one_line(f"skipped {skipped.path}: {skipped.problem}") + "\n"
        )
    sys.stderr.flush()
    path = write_trend_html(trend, html or default_trend_path(reports_dir, trend))
    for line in trend_lines(trend):
        print_plain(line)
    print_plain(f"wrote {path}")
