"""``chaosgate compare RUN_A RUN_B``: the comparison as data, its lines, its page, and the
command's exit codes and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assertions.result import CheckResult, Status
from chaosgate.cli import main
from chaosgate.report.compare import CheckChange, RunComparison, compare_runs, comparison_lines
from chaosgate.report.compare_html import render_comparison_html
from chaosgate.report.run_figures import FigureGroup
from chaosgate.report.run_folder import read_run_folder
from tests.unit.report.page_tags import page_tags
from tests.unit.report.run_fixture import checks
from tests.unit.report.run_series import changed, write_run

USERS_DOWN = "UsersServiceDown{service=users,severity=critical}"
GATEWAY = "GatewayHighErrorRate{service=gateway,severity=critical}"
COMPLETENESS = CheckResult(
    "traces.completeness",
    Status.PASSED,
    {"ratio_at_least": 0.99, "deadline_s": 30.0},
    {"looked_for": 2000, "found": 2000, "ratio": 1.0, "missing": 0, "incomplete": 0},
)


def _compare(tmp_path: Path, then: list[CheckResult], now: list[CheckResult]) -> RunComparison:
    reports = tmp_path / "reports"
    run_a = write_run(reports, "run-a", results=then, verdict="passed")
    run_b = write_run(reports, "run-b", days=1, results=now)
    return compare_runs(
        read_run_folder(run_a, with_ledger=False), read_run_folder(run_b, with_ledger=False)
    )


def _figure(
    comparison: RunComparison, group: FigureGroup, subject: str, measure: str
) -> tuple[float | None, float | None, str]:
    [pair] = [
        pair
        for pair in comparison.figures_of(group)
        if (pair.figure.subject, pair.figure.measure) == (subject, measure)
    ]
    before = None if pair.before is None else pair.before.value
    after = None if pair.after is None else pair.after.value
    return before, after, pair.direction


def test_changed_statuses_come_first_then_checks_of_one_run_then_the_rest(
    tmp_path: Path,
) -> None:
    then = [*changed("logs.ingest_lag", status="passed", reason=""), COMPLETENESS]
    now = [check for check in checks() if check.name != "warmup.gateway"]
    now = changed("alerts.noise", now, status="error", reason="Alertmanager did not answer")
    comparison = _compare(tmp_path, then, now)
    changes = [(pair.name, pair.change) for pair in comparison.checks]
    assert changes[:3] == [
        ("logs.ingest_lag", CheckChange.CHANGED),
        ("alerts.noise", CheckChange.CHANGED),
        ("warmup.gateway", CheckChange.ONLY_THEN),
    ]
    assert changes[3] == ("traces.completeness", CheckChange.ONLY_THEN)
    assert {change for _, change in changes[4:]} == {CheckChange.SAME}
    assert len(changes) == len(checks()) + 1  # every check of either run, once
    noise = comparison.checks[1]
    assert (noise.before, noise.after) == (Status.FAILED, Status.ERROR)
    assert noise.reason == "Alertmanager did not answer"  # the reason now
    gone = comparison.checks[2]
    assert (gone.before, gone.after) == (Status.PASSED, None)
    assert comparison.count(CheckChange.CHANGED) == 2
    assert comparison.count(CheckChange.ONLY_NOW) == 0
    assert (comparison.before.verdict, comparison.after.verdict) == ("passed", "failed")
    assert comparison.verdict_changed


def test_each_alert_stage_latency_then_and_now(tmp_path: Path) -> None:
    fired = f"alert.{USERS_DOWN}.fired"
    now = changed(fired, latency_s=9.5)
    now = changed(f"alert.{USERS_DOWN}.notified.slack", now, latency_s=12.0, status="passed")
    comparison = _compare(tmp_path, checks(), now)
    alerts = FigureGroup.ALERT
    assert _figure(comparison, alerts, USERS_DOWN, "fired") == (6.4, 9.5, "worse")
    assert _figure(comparison, alerts, USERS_DOWN, "notified.webhook") == (7.1, 7.1, "same")
    assert _figure(comparison, alerts, USERS_DOWN, "notified.slack") == (33.0, 12.0, "better")
    assert _figure(comparison, alerts, USERS_DOWN, "resolved") == (3.0, 3.0, "same")
    assert _figure(comparison, alerts, GATEWAY, "fired") == (None, None, "")  # never fired
    [slack] = [p for p in comparison.figures_of(alerts) if p.figure.measure == "notified.slack"]
    assert slack.before is not None and slack.before.status is Status.FAILED
    assert slack.figure.limit == 30.0
    assert slack.delta_text == "-21.000 better"


def test_a_run_without_alerts_pairs_the_other_runs_alerts_with_nothing(tmp_path: Path) -> None:
    quiet = [check for check in checks() if not check.name.startswith("alert.")]
    comparison = _compare(tmp_path, quiet, checks())
    alerts = comparison.figures_of(FigureGroup.ALERT)
    assert [(p.figure.subject, p.figure.measure) for p in alerts] == [
        (USERS_DOWN, "fired"),
        (USERS_DOWN, "notified.webhook"),
        (USERS_DOWN, "notified.slack"),
        (USERS_DOWN, "resolved"),
        (GATEWAY, "fired"),
    ]
    assert all(pair.before is None and pair.delta is None for pair in alerts)
    only_now = [p.name for p in comparison.checks if p.change is CheckChange.ONLY_NOW]
    assert only_now == [check.name for check in checks() if check.name.startswith("alert.")]
    lines = comparison_lines(comparison)
    fired = lines.index(USERS_DOWN) + 1
    assert lines[fired].split() == ["fired", "-", "6.400"]
    # and the other way round: the alerts only then
    back = _compare(tmp_path / "back", checks(), quiet)
    assert all(p.after is None for p in back.figures_of(FigureGroup.ALERT))


def test_completeness_ingest_lag_and_slos_then_and_now(tmp_path: Path) -> None:
    worse = CheckResult(
        "traces.completeness",
        Status.FAILED,
        {"ratio_at_least": 0.99},
        {"looked_for": 2000, "found": 1900, "ratio": 0.95, "missing": 100, "incomplete": 3},
        "100 of 2000 traces missing",
    )
    slo = "slo.ledger.inside_faults"
    now = changed(slo, [*checks(), worse], observed={"error_ratio": 0.25, "p95_s": 0.4})
    now = changed(
        "traces.ingest_lag",
        now,
        observed={"lag_s": {"p50": 1.0, "p95": 2.0, "max": 5.0}},
        latency_s=2.0,
    )
    comparison = _compare(tmp_path, [*checks(), COMPLETENESS], now)
    group = FigureGroup.COMPLETENESS
    assert _figure(comparison, group, "traces.completeness", "ratio") == (1.0, 0.95, "worse")
    assert _figure(comparison, group, "traces.completeness", "missing") == (0, 100, "worse")
    assert _figure(comparison, group, "traces.completeness", "looked_for") == (2000, 2000, "")
    lag = FigureGroup.INGEST_LAG
    assert _figure(comparison, lag, "traces", "p95") == (2.5, 2.0, "better")
    assert _figure(comparison, lag, "traces", "max") == (3.4, 5.0, "worse")
    assert _figure(comparison, FigureGroup.SLO, slo, "error_ratio") == (0.333, 0.25, "better")
    assert _figure(comparison, FigureGroup.SLO, slo, "p95") == (0.2, 0.4, "worse")
    lines = comparison_lines(comparison)
    ratio = lines.index("traces.completeness") + 1
    assert lines[ratio].split() == ["ratio", "1.0000", "0.9500", "[failed]", "-0.0500", "worse"]


def test_the_page_holds_the_figures_needs_no_network_and_escapes_values(tmp_path: Path) -> None:
    name = "slo.<script>alert(1)</script>"
    sneaky = CheckResult(name, Status.FAILED, {}, {"error_ratio": 0.5}, "<b>bold</b>")
    comparison = _compare(
        tmp_path, checks(), changed(f"alert.{USERS_DOWN}.fired", [*checks(), sneaky], latency_s=9.5)
    )
    text = render_comparison_html(comparison, now=lambda: 0.0)
    tags = page_tags(text)
    assert not [link for link in tags.links if "http://" in link or "https://" in link]
    assert "script" not in tags.tags and "link" not in tags.tags  # nothing to load or run
    assert "<script>alert(1)</script>" not in text and "<b>bold</b>" not in text
    assert "slo.&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for cell in ("6.400", "9.500", "+3.100 worse", "33.000 [failed]", "0.3330", "run-a", "run-b"):
        assert cell in text
    assert "written 1970-01-01 00:00:00 UTC" in text


def test_compare_prints_writes_the_page_into_run_b_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_a = write_run(tmp_path, "run-a", verdict="passed")
    run_b = write_run(tmp_path, "run-b", days=1)  # failed: still exit 0
    assert main(["compare", str(run_a), str(run_b)]) == 0
    out = capsys.readouterr().out.splitlines()
    page = run_b / "compare-run-a.html"
    assert out[-1] == f"wrote {page}"
    assert out[1].split() == ["run", "run-a", "run-b"]
    assert "verdict  passed" in out[4] and out[4].endswith("failed")
    assert USERS_DOWN in out
    assert USERS_DOWN in page.read_text()
    chosen = tmp_path / "chosen.html"
    assert main(["compare", str(run_a), str(run_b), "--html", str(chosen)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"wrote {chosen}"
    assert chosen.is_file()


@pytest.mark.parametrize(
    ("summary", "message"),
    [
        (None, "run folder {run} does not exist"),
        ("", "{run}/summary.json does not exist"),
        ("{,", "{run}/summary.json is not JSON: "),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], summary: str | None, message: str
) -> None:
    good = write_run(tmp_path, "good")
    run_dir = tmp_path / "run"
    if summary is not None:
        run_dir.mkdir()
        if summary:
            (run_dir / "summary.json").write_text(summary)
    for args in ([str(good), str(run_dir)], [str(run_dir), str(good)]):
        assert main(["compare", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("chaosgate: error: ")
        assert message.format(run=run_dir) in err
    assert not list(tmp_path.rglob("compare-*.html"))


def test_a_page_path_that_cannot_be_written_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_a, run_b = write_run(tmp_path, "run-a"), write_run(tmp_path, "run-b")
    target = tmp_path / "no-such-folder" / "page.html"
    assert main(["compare", str(run_a), str(run_b), "--html", str(target)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"chaosgate: error: cannot write {target}: its folder {target.parent} does not exist "
        "(create it first)\n"
    )


def test_a_replay_is_named_beside_the_run_it_replayed(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    run_a = write_run(reports, "run-a", verdict="passed")
    run_b = write_run(reports, "run-b", days=1)
    folders = [read_run_folder(p, with_ledger=False) for p in (run_a, run_b)]
    assert not any("replay of" in line for line in comparison_lines(compare_runs(*folders)))
    summary = json.loads((run_b / "summary.json").read_text())
    summary.setdefault("replay", {})["replay_of"] = {"run_id": "run-a", "run_dir": str(run_a)}
    (run_b / "summary.json").write_text(json.dumps(summary))
    comparison = compare_runs(folders[0], read_run_folder(run_b, with_ledger=False))
    [line] = [line for line in comparison_lines(comparison) if "replay of" in line]
    assert line.split() == ["replay", "of", "-", "run-a"]
    assert "<td>replay of</td>" in render_comparison_html(comparison)
