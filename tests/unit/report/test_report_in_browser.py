"""report.html as a reader sees it: Debian's headless Chromium opens the page from disk with the
network off, and the timeline must be drawn with no script error and no request off the page.
The same check, run on pages broken on purpose, must say what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from chaosgate.report.html_report import write_html_report
from tests.report_browser import (
    REPORT_ELEMENTS,
    BrowserView,
    ChromiumMissingError,
    ElementBox,
    headless_chromium,
    view_report,
    view_run_report,
)
from tests.unit.report.run_fixture import write_run_folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with headless_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_html_report(write_run_folder(tmp_path_factory.mktemp("reports")))


def _broken_copy(report: Path, folder: Path, before_body_end: str) -> Path:
    """The report with ``before_body_end`` added as the last thing in its body."""
    text = report.read_text(encoding="utf-8")
    assert text.count("</body>") == 1
    page = folder / "report.html"
    page.write_text(text.replace("</body>", before_body_end + "</body>"), encoding="utf-8")
    return page


@pytest.mark.tools
def test_the_report_draws_its_timeline_in_chromium_with_no_network(
    report: Path, browser: Browser
) -> None:
    view = view_run_report(report.parent, browser=browser)
    assert view.errors == ()
    assert view.blocked_requests == ()
    assert set(view.elements) == set(REPORT_ELEMENTS)
    for name, boxes in view.elements.items():
        assert boxes, f"{name}: not on the page"
        assert all(box.has_size for box in boxes), (name, boxes)
    figures = view.elements["timeline figures"]
    assert view.plots_in_document >= 4  # rates, errors, latency, alerts at least
    assert len(figures) == view.plots_in_document == len(view.figure_ink)
    assert all(ink > 1000 for ink in view.figure_ink), view.figure_ink
    assert len({box.x for box in figures}) == 1  # one column on one time axis
    assert view.problems() == []
    assert view.screenshot == report.parent / "report.png"
    assert view.screenshot.read_bytes().startswith(b"\x89PNG")
    width, height = view.screenshot_size
    (table,) = view.elements["checks table"]
    assert width == 1400 and height >= table.y + table.height  # the whole page, not the viewport
    assert view.seconds < 10


def _page(folder: Path, body: str) -> Path:
    page = folder / "page.html"
    page.write_text(f"<!DOCTYPE html><html><body><p>a page</p>{body}</body></html>")
    return page


@pytest.mark.tools
def test_a_script_error_on_the_page_is_reported(browser: Browser, tmp_path: Path) -> None:
    page = _page(tmp_path, '<script>throw new Error("the page broke")</script>')
    view = view_report(page, tmp_path / "shot.png", elements={"text": "p"}, browser=browser)
    assert view.errors == ("Error: the page broke",)
    assert view.problems() == ["script error: Error: the page broke"]
    assert view.blocked_requests == ()
    assert view.elements["text"][0].has_size


@pytest.mark.tools
def test_every_request_off_the_page_is_refused_and_recorded(
    browser: Browser, tmp_path: Path
) -> None:
    (tmp_path / "beside.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    page = _page(
        tmp_path,
        '<img src="http://127.0.0.1:9/x.png"><img src="beside.png">'
        '<script>new WebSocket("ws://127.0.0.1:9/live")</script>',
    )
    view = view_report(page, tmp_path / "shot.png", elements={}, browser=browser)
    assert sorted(view.blocked_requests) == sorted(
        ["http://127.0.0.1:9/x.png", (tmp_path / "beside.png").as_uri(), "ws://127.0.0.1:9/live"]
    )
    assert "tried to load http://127.0.0.1:9/x.png" in view.problems()


@pytest.mark.tools
def test_a_timeline_that_is_not_laid_out_is_reported(
    report: Path, browser: Browser, tmp_path: Path
) -> None:
    page = _broken_copy(report, tmp_path, "<style>#timeline { display: none; }</style>")
    view = view_report(page, tmp_path / "shot.png", browser=browser)
    assert view.errors == () and view.blocked_requests == ()
    assert view.elements["verdict"][0].has_size
    assert not any(box.has_size for box in view.elements["timeline figures"])
    assert "timeline figures #1: 0 x 0 px" in view.problems()


def test_a_missing_chromium_names_the_debian_package(tmp_path: Path) -> None:
    package = r"Debian's package \(`apt-get install --no-install-recommends chromium`"
    with pytest.raises(ChromiumMissingError, match=package), headless_chromium(tmp_path / "x"):
        pass


def test_a_figure_that_is_blank_or_not_on_the_page_is_a_problem(tmp_path: Path) -> None:
    drawn = ElementBox("timeline figures", 24, 400, 1322, 240)
    view = BrowserView(
        page=tmp_path / "report.html",
        errors=(),
        warnings=(),
        blocked_requests=(),
        elements={"timeline figures": (drawn, drawn)},
        plots_in_document=3,
        figure_ink=(5120, 0),
        screenshot=tmp_path / "report.png",
        screenshot_size=(1400, 2700),
        seconds=2.0,
    )
    assert view.problems() == [
        "2 of the document's 3 figures are on the page",
        "figure #2 is blank",
    ]
