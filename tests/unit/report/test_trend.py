"""``chaosgate trend REPORTS_DIR``: the runs found, the trend as data, its lines, its page with
one chart per figure, and the command's exit codes, warnings and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assertions.result import CheckResult, Status
from chaosgate.cli import main
from chaosgate.report.run_figures import FigureGroup
from chaosgate.report.trend import (
    Trend,
    TrendError,
    build_trend,
    find_runs,
    load_trend,
    trend_lines,
)
from chaosgate.report.trend_html import render_trend_html
from tests.unit.report.page_tags import page_tags
from tests.unit.report.run_fixture import checks
from tests.unit.report.run_series import changed, write_run

USERS_DOWN = "UsersServiceDown{service=users,severity=critical}"
GATEWAY = "GatewayHighErrorRate{service=gateway,severity=critical}"
FIRED = f"alert.{USERS_DOWN}.fired"
COMPLETENESS = CheckResult(
    "traces.completeness",
    Status.PASSED,
    {"ratio_at_least": 0.99},
    {"looked_for": 2000, "found": 1990, "ratio": 0.995, "missing": 10, "incomplete": 0},
)


def _values(trend: Trend, group: FigureGroup, subject: str, measure: str) -> list[float | None]:
    [series] = [
        item
        for item in trend.series_of(group)
        if (item.subject, item.measure) == (subject, measure)
    ]
    return [
        None if point is None or point.value is None else point.value for point in series.points
    ]


def _reports(tmp_path: Path) -> Path:
    """Four smoke runs whose folder names sort against their starts, a gate run, a folder
    without summary.json and one whose summary.json is no JSON."""
    reports = tmp_path / "reports"
    write_run(reports, "b-oldest", days=0, results=changed(FIRED, latency_s=5.0))
    write_run(reports, "a-second", days=1, results=changed(FIRED, latency_s=6.0))
    quiet = [check for check in checks() if not check.name.startswith("alert.")]
    write_run(reports, "d-third", days=2, results=[*quiet, COMPLETENESS])
    write_run(reports, "c-newest", days=3, results=changed(FIRED, latency_s=8.0), verdict="passed")
    write_run(reports, "e-gate", days=1.5, profile="gate")
    (reports / "in-progress").mkdir()
    (reports / "broken").mkdir()
    (reports / "broken" / "summary.json").write_text("{,")
    (reports / "notes.txt").write_text("not a run")
    return reports


def test_runs_are_found_and_an_unreadable_one_is_set_aside(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    found = find_runs(reports)
    assert sorted(folder.run_id for folder in found.folders) == [
        "a-second",
        "b-oldest",
        "c-newest",
        "d-third",
        "e-gate",
    ]
    [broken] = found.unreadable
    assert broken.path == reports / "broken"
    assert "summary.json is not JSON" in broken.problem


def test_the_last_runs_of_a_profile_by_start_with_their_figures(tmp_path: Path) -> None:
    folders = find_runs(_reports(tmp_path)).folders
    trend = build_trend(folders, profile="smoke", last=10)
    assert trend.profile == "smoke"
    assert [run.run_id for run in trend.runs] == ["b-oldest", "a-second", "d-third", "c-newest"]
    assert _values(trend, FigureGroup.ALERT, USERS_DOWN, "fired") == [5.0, 6.0, None, 8.0]
    assert _values(trend, FigureGroup.ALERT, GATEWAY, "fired") == [None] * 4  # never fired
    [gateway] = [s for s in trend.series_of(FigureGroup.ALERT) if s.subject == GATEWAY]
    assert [p is None for p in gateway.points] == [False, False, True, False]
    assert gateway.points[0] is not None and gateway.points[0].status is Status.FAILED
    ratio = _values(trend, FigureGroup.COMPLETENESS, "traces.completeness", "ratio")
    assert ratio == [None, None, 0.995, None]
    assert _values(trend, FigureGroup.INGEST_LAG, "logs", "p95") == [2.5] * 4
    slo = "slo.ledger.inside_faults"
    assert _values(trend, FigureGroup.SLO, slo, "error_ratio") == [0.333] * 4
    assert _values(trend, FigureGroup.SLO, slo, "p95") == [0.2] * 4
    # only what a trend follows: time to fire, ratio, lag p95, the SLOs' two figures
    measures = {(series.group, series.measure) for series in trend.series}
    assert measures == {
        (FigureGroup.ALERT, "fired"),
        (FigureGroup.COMPLETENESS, "ratio"),
        (FigureGroup.INGEST_LAG, "p95"),
        (FigureGroup.SLO, "error_ratio"),
        (FigureGroup.SLO, "p95"),
    }
    assert [series.group for series in trend.series] == sorted(
        (series.group for series in trend.series), key=list(FigureGroup).index
    )


def test_last_n_the_default_profile_and_no_run_of_a_profile(tmp_path: Path) -> None:
    folders = find_runs(_reports(tmp_path)).folders
    last_two = build_trend(folders, profile="smoke", last=2)
    assert [run.run_id for run in last_two.runs] == ["d-third", "c-newest"]
    assert build_trend(folders).profile == "smoke"  # the newest run's
    gate = build_trend(folders, profile="gate")
    assert [run.run_id for run in gate.runs] == ["e-gate"]
    with pytest.raises(TrendError, match=r"no run of profile 'nightly'; .*gate \(1 run\), "):
        build_trend(folders, profile="nightly")
    with pytest.raises(TrendError, match="no run folder"):
        build_trend([])


def test_the_lines_number_the_runs_and_give_a_column_each(tmp_path: Path) -> None:
    trend, _ = load_trend(_reports(tmp_path), profile="smoke")
    lines = trend_lines(trend)
    assert lines[0] == "profile smoke: the last 4 runs, oldest first"
    assert lines[2].split()[:2] == ["1", "b-oldest"] and lines[5].split()[:2] == ["4", "c-newest"]
    fired = lines.index(USERS_DOWN) + 1
    assert lines[fired].split() == ["fired", "5.000", "6.000", "-", "8.000"]
    gateway = lines.index(GATEWAY) + 1
    assert lines[gateway].split() == ["fired", *["none", "[failed]"] * 2, "-", "none", "[failed]"]


def test_the_page_has_a_chart_per_figure_and_needs_no_network(tmp_path: Path) -> None:
    trend, _ = load_trend(_reports(tmp_path), profile="smoke")
    text = render_trend_html(trend, now=lambda: 0.0)
    page = page_tags(text)
    assert not [link for link in page.links if "http://" in link or "https://" in link]
    assert all("src" not in script for script in page.scripts)  # Bokeh's code inlined
    assert "link" not in page.tags
    assert "Bokeh" in text and len(text) < 3 * 1024 * 1024
    # components() gives each chart a root div with a data-root-id
    assert len(re.findall(r"<div id=\"[^\"]+\" data-root-id=", text)) == len(trend.series)
    assert text.count("<figure>") == len(trend.series)
    for cell in ("5.000", "6.000", "8.000", "0.9950", "b-oldest", "c-newest", "limit 30.000"):
        assert cell in text
    assert "written 1970-01-01 00:00:00 UTC" in text


def test_trend_warns_of_unreadable_runs_writes_the_page_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = _reports(tmp_path)
    assert main(["trend", str(reports), "--last", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"chaosgate: warning: skipped {reports / 'broken'}: {reports / 'broken'}/summary.json "
        "is not JSON: Expecting property name enclosed in double quotes: line 1 column 2 "
        "(char 1)"
    ]
    out = captured.out.splitlines()
    page = reports / "trend-smoke.html"
    assert out[0] == "profile smoke: the last 3 runs, oldest first"
    assert out[-1] == f"wrote {page}"
    assert "c-newest" in page.read_text()
    chosen = tmp_path / "gate.html"
    assert main(["trend", str(reports), "-p", "gate", "--html", str(chosen)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {chosen}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{reports}/nothing"], "reports folder {reports}/nothing does not exist"),
        (["{reports}/notes.txt"], "reports folder {reports}/notes.txt is not a folder"),
        (["{reports}/in-progress"], "{reports}/in-progress: there is no run folder"),
        (["{reports}", "-p", "nightly"], "{reports}: no run of profile 'nightly'"),
        (["{reports}", "--last", "0"], "invalid value for '--last'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    reports = _reports(tmp_path)
    assert main(["trend", *(arg.format(reports=reports) for arg in args)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("chaosgate: error: ")
    assert message.format(reports=reports) in err[-1]
    assert all(line.startswith("chaosgate: warning: skipped") for line in err[:-1])
    assert not list(tmp_path.rglob("trend-*.html"))


def test_replays_are_left_out_of_a_profiles_trend(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    replay = write_run(reports, "f-replay", days=9.0)  # the newest smoke run, but a replay
    summary = json.loads((replay / "summary.json").read_text())
    summary.setdefault("replay", {})["replay_of"] = {"run_id": "c-newest", "run_dir": "x"}
    (replay / "summary.json").write_text(json.dumps(summary))
    trend = build_trend(find_runs(reports).folders, profile="smoke", last=10)
    assert [run.run_id for run in trend.runs] == ["b-oldest", "a-second", "d-third", "c-newest"]
    assert trend.replays_left_out == 1
    assert "(1 replay(s) of its runs left out)" in trend_lines(trend)
    only_replays = [f for f in find_runs(reports).folders if f.replay_of is not None]
    with pytest.raises(TrendError, match="other than 1 replay"):
        build_trend(only_replays)
