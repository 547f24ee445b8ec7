"""report.html drawn from a run folder: what it says, that it needs no network, its size, and
that no value from the run can break out of the page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assertions.result import CheckResult, Status
from chaosgate.report.html_report import check_rows, write_html_report
from chaosgate.report.timeline_alert_panel import plain_text, row_labels
from tests.unit.report.page_tags import page_tags
from tests.unit.report.run_fixture import checks, read_summary, timeline, write_run_folder

MAX_BYTES = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def default_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page of the fixture run as it is (drawn once: a page costs about half a second)."""
    return write_html_report(write_run_folder(tmp_path_factory.mktemp("run")))


def test_the_page_shows_the_verdict_and_every_failed_check_with_its_reason(
    default_page: Path,
) -> None:
    path = default_page
    assert path.name == "report.html"
    text = path.read_text()
    assert "<h1>FAILED &middot; 20261202-050719-smoke-test</h1>" in text
    summary = read_summary(path.parent)
    assert len(summary["failed_checks"]) == 4
    head = text[text.index('id="failed"') : text.index('id="timeline"')]  # the top section
    for check in checks():
        if not check.passed:
            assert check.name in head
            assert check.reason in head
    assert "checks passed" not in head
    assert text.count('class="status status-') == len(checks()) + 4  # table + failures list


def test_the_page_opens_from_disk_with_no_network_and_stays_small(default_page: Path) -> None:
    path = default_page
    page = page_tags(path.read_text())
    assert "div" in page.tags and len(page.scripts) >= 2  # Bokeh's code and the figure
    assert not [link for link in page.links if "http://" in link or "https://" in link]
    assert all("src" not in script for script in page.scripts)  # every script inline
    assert "link" not in page.tags  # no stylesheet, font or icon fetched
    assert path.stat().st_size < MAX_BYTES


def test_values_from_the_run_are_escaped_everywhere(tmp_path: Path) -> None:
    hostile = '</script><script>alert("x")</script>'
    image = "<img src=x onerror=alert(1)>"
    events = [
        {**record, "fault_window": {**record["fault_window"], "experiment": hostile}}
        if "fault_window" in record
        else record
        for record in timeline()
    ]
    results = [
        *checks(),
        CheckResult(f'odd."><b>{hostile}', Status.FAILED, image, {"x": hostile}, reason=image),
    ]
    run_dir = write_run_folder(tmp_path, results=results, events=events)
    text = write_html_report(run_dir).read_text()
    assert hostile not in text and image not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "odd.&#34;&gt;&lt;b&gt;&lt;/script&gt;" in text
    page = page_tags(text)
    assert not [link for link in page.links if "://" in link]


def test_tex_delimiters_in_labels_are_broken_so_bokeh_never_fetches_mathjax() -> None:
    assert "$$" not in plain_text("cost $$x$$") and "\\(" not in plain_text(r"a \(b\)")
    labels = row_labels(["A" * 30, "A" * 30, "short", r"x=~.*\(y\)"])
    assert labels[0] == "A" * 25 + "…" and labels[1] == "A" * 25 + "… #2"
    assert labels[2] == "short" and "\\(" not in labels[3]


def test_a_run_interrupted_in_its_warm_up_still_gets_a_page(tmp_path: Path) -> None:
    interrupted = CheckResult(
        "run.interrupted",
        Status.ERROR,
        "the run completes",
        "SIGINT",
        reason="interrupted by SIGINT at +0.2 s during warm-up; undone: nothing",
    )
    run_dir = write_run_folder(
        tmp_path,
        verdict="interrupted",
        results=[interrupted],
        events=[],
        ledger=[],
        duration_s=0.2,
    )
    text = write_html_report(run_dir).read_text()
    assert "INTERRUPTED" in text and interrupted.reason in text
    assert "Nothing to draw" in text
    assert "no request ledger" in text and "No experiment injected a fault." in text
    assert not page_tags(text).scripts  # no figure, so no Bokeh either
    assert len(text) < 20_000


def test_an_unreadable_ledger_is_said_and_the_rest_is_drawn(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    with (run_dir / "ledger" / "ledger-host-2.jsonl").open("w") as broken:
        broken.write('{"not": "an entry"}\n')
    text = write_html_report(run_dir).read_text()
    assert "the request ledger could not be read" in text
    assert "ledger-host-2.jsonl" in text and "line 1" in text
    assert "faults and alerts" in text  # the figure without its load panels


def test_links_go_only_to_files_of_the_run_folder(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = read_summary(run_dir)
    summary["artifacts"] = {"junit": "junit.xml", "far": "https://x.example/a", "abs": "/etc/x"}
    summary["versions"] = {"jaeger": {"version": "2.13.0"}}  # a field this reader keeps
    (run_dir / "summary.json").write_text(json.dumps(summary))
    text = write_html_report(run_dir).read_text()
    links = page_tags(text).links
    assert "junit.xml" in links
    assert not [link for link in links if "x.example" in link or link == "/etc/x"]
    assert "https://x.example/a" in text  # shown as text
    assert "2.13.0" in text and "versions the run recorded" in text


def test_a_failed_write_leaves_no_partial_page(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    (run_dir / "report.html").mkdir()  # a folder where the page goes: the rename fails
    with pytest.raises(OSError):
        write_html_report(run_dir)
    assert sorted(p.name for p in run_dir.iterdir()) == ["ledger", "report.html", "summary.json"]


def test_check_rows_keep_the_run_order_and_format_each_field() -> None:
    rows = check_rows(checks())
    assert [row.name for row in rows] == [check.name for check in checks()]
    warmup, traces = rows[0], rows[1]
    assert (warmup.status, warmup.expected, warmup.latency, warmup.evidence) == (
        "passed",
        '"answers"',
        "",
        "",
    )
    assert traces.latency == "2.500 s"
    assert json.loads(traces.evidence) == {"missed": [], "method": "live sample"}
    assert json.loads(traces.observed)["lag_s"]["p95"] == 2.5


def test_the_versions_the_run_recorded_are_listed(tmp_path: Path) -> None:
    run_dir = write_run_folder(tmp_path)
    summary = read_summary(run_dir)
    summary["replay"] = {
        "chaosgate": {"version": "0.1.0", "git_revision": "96ee0db0123456789", "git_dirty": True},
        "parts": {
            "prometheus": {"version": "3.16.0", "revision": "abc", "build_date": None},
            "jaeger": {"error": "jaeger: connection refused"},
        },
    }
    (run_dir / "summary.json").write_text(json.dumps(summary))
    text = write_html_report(run_dir).read_text()
    section = text[text.index('id="settings"') : text.index('id="artifacts"')]
    assert "<td>chaosgate</td><td>0.1.0</td><td>git 96ee0db01234 with local changes</td>" in section
    assert "<td>prometheus</td><td>3.16.0</td><td>revision abc</td>" in section
    assert "<td>jaeger</td><td>unknown</td><td>not read: jaeger: connection refused</td>" in section
    assert '<th>seed</th><td class="json">7</td>' in section


def test_a_replay_names_the_run_it_replayed_at_the_top(tmp_path: Path, default_page: Path) -> None:
    assert "a replay of run" not in default_page.read_text()
    run_dir = write_run_folder(tmp_path)
    summary = read_summary(run_dir)
    summary["replay"] = {"replay_of": {"run_id": "20261201-0200-nightly-ab12", "run_dir": "/r"}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    text = write_html_report(run_dir).read_text()
    header = text[text.index("<header") : text.index("</header>")]
    assert "a replay of run <b>20261201-0200-nightly-ab12</b>" in header
