"""A real browser looks at a report page: headless Chromium (Debian's ``chromium`` package)
opens the file from disk with the network off, and says what it saw.

Why a browser and not only a parse of the HTML: the timeline is drawn by Bokeh's JavaScript
at load time, so a page can be well-formed and still show nothing (a script error, a model
Bokeh cannot build, a figure that never paints). Only running the script shows that.

The network is off twice over: the browser context is ``offline``, and a route handler aborts
every request (and every WebSocket) whose URL is not the page's own, recording each attempt,
so a page that tries to fetch anything (a CDN script, a font, MathJax, an image) is caught even
where the offline switch would not apply (another ``file://`` on the disk).

Playwright drives the system Chromium through ``executable_path``; no browser is downloaded
(never run ``playwright install``). One :func:`view_report` launches its own browser (about a
second); tests that view several pages pass one from :func:`headless_chromium`.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Route,
    ViewportSize,
    WebSocketRoute,
    sync_playwright,
)
from playwright.sync_api import TimeoutError as PlaywrightTimeout

__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "REPORT_ELEMENTS",
    "SCREENSHOT_FILE",
    "BrowserView",
    "ChromiumMissingError",
    "ElementBox",
    "headless_chromium",
    "view_report",
    "view_run_report",
]

CHROMIUM = Path("/usr/bin/chromium")  # Debian's launcher script for /usr/lib/chromium/chromium
SCREENSHOT_FILE = "report.png"  # next to report.html in the run folder

# Root needs --no-sandbox. The rest keep Chromium from phoning home at start (component
# updates, sync, field trials), which on a closed network shows up as refused connections.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# What the report page must show, by name: a CSS selector each (Playwright's CSS pierces the
# open shadow roots Bokeh draws into). Every match is measured.
REPORT_ELEMENTS: Mapping[str, str] = {
    "verdict": "body > header",
    "failed checks": "section#failed",
    "timeline figures": "#timeline .bk-Figure",
    "timeline canvases": "#timeline .bk-Figure .bk-Canvas > canvas",
    "checks table": "table.checks",
}
FIGURES = ".bk-Figure"  # every Bokeh figure on the page, whichever section holds it

VIEWPORT: ViewportSize = {"width": 1400, "height": 900}
LOAD_TIMEOUT_MS = 15_000
RENDER_TIMEOUT_MS = 10_000

# True once every Bokeh document on the page has rendered all its views (a page without Bokeh
# has nothing to wait for).
_BOKEH_IDLE = """() => {
  const bokeh = window.Bokeh;
  if (bokeh === undefined) return true;
  const documents = bokeh.documents ?? [];
  return documents.length > 0 && documents.every((doc) => doc.is_idle);
}"""
_BOKEH_FIGURES = """() => (window.Bokeh?.documents ?? [])
  .flatMap((doc) => [...doc.all_models].filter((model) => model.type === "Figure")).length"""
_TWO_FRAMES = """() => new Promise((done) =>
  requestAnimationFrame(() => requestAnimationFrame(() => done(true))))"""
# Per figure, the pixels its canvas layers (the children of its .bk-Canvas's shadow root, not
# the legend's glyphs) drew other than each layer's dominant colour (its background fill):
# zero means the figure has a size but nothing on it.
_FIGURE_INK = """(figures) => figures.map((figure) => {
  const canvas = figure.shadowRoot?.querySelector(".bk-Canvas");
  const layers = [...(canvas?.shadowRoot?.children ?? [])].filter((e) => e.tagName === "CANVAS");
  let ink = 0;
  for (const layer of layers) {
    const context = layer.width && layer.height ? layer.getContext("2d") : null;
    if (!context) continue;
    const data = context.getImageData(0, 0, layer.width, layer.height).data;
    const counts = new Map();
    let painted = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] === 0) continue;
      painted += 1;
      const colour = (data[i] << 24) | (data[i + 1] << 16) | (data[i + 2] << 8) | data[i + 3];
      counts.set(colour, (counts.get(colour) ?? 0) + 1);
    }
    let background = 0;
    for (const count of counts.values()) background = Math.max(background, count);
    ink += painted - background;
  }
  return ink;
})"""
# Every match's box in page coordinates (0 x 0 for an element not laid out).
_BOXES = """(elements) => elements.map((element) => {
  const box = element.getBoundingClientRect();
  return [box.x + window.scrollX, box.y + window.scrollY, box.width, box.height];
})"""


class ChromiumMissingError(FileNotFoundError):
    """There is no Chromium where Debian's package puts it."""


@dataclass(frozen=True)
class ElementBox:
    """Where one element sat on the page, in CSS pixels (0 x 0 when it is not laid out)."""

    name: str  # a key of the elements asked for
    x: float
    y: float
    width: float
    height: float

    @property
    def has_size(self) -> bool:
        return self.width > 0 and self.height > 0


@dataclass(frozen=True)
class BrowserView:
    """What the browser saw of one page."""

    page: Path
    errors: tuple[str, ...]  # uncaught exceptions and console errors, in order
    warnings: tuple[str, ...]  # console warnings (not judged; for the reader)
    blocked_requests: tuple[str, ...]  # URLs the page tried to load, all refused
    elements: Mapping[str, tuple[ElementBox, ...]]  # per name asked for; () when none matched
    plots_in_document: int  # figures Bokeh's document holds (0: no Bokeh on the page)
    figure_ink: tuple[int, ...]  # per figure drawn, pixels painted besides its background
    screenshot: Path
    screenshot_size: tuple[int, int]  # (width, height) in pixels
    seconds: float  # launch (when not given a browser) to screenshot written

    def problems(self) -> list[str]:
        """Every reason the page is not what a reader should see; empty when it is."""
        found = [f"script error: {error}" for error in self.errors]
        found += [f"tried to load {url}" for url in self.blocked_requests]
        for name, boxes in self.elements.items():
            if not boxes:
                found.append(f"{name}: no element on the page")
            found += [
                f"{name} #{index}: {box.width:g} x {box.height:g} px"
                for index, box in enumerate(boxes, 1)
                if not box.has_size
            ]
        if len(self.figure_ink) != self.plots_in_document:
            found.append(
                f"{len(self.figure_ink)} of the document's {self.plots_in_document} "
                "figures are on the page"
            )
        found += [
            f"figure #{index} is blank" for index, ink in enumerate(self.figure_ink, 1) if not ink
        ]
        return found


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; (0, 0) for a file that is not a PNG."""
    head = path.read_bytes()[:24]
    if len(head) < 24 or not head.startswith(b"\x89PNG\r\n\x1a\n") or head[12:16] != b"IHDR":
        return (0, 0)
    width, height = struct.unpack(">II", head[16:24])
    return (width, height)


@contextmanager
def headless_chromium(executable: Path = CHROMIUM) -> Iterator[Browser]:
    """Debian's Chromium, headless, for as long as the block runs."""
    if not executable.is_file():
        raise ChromiumMissingError(
            f"no Chromium at {executable}: install Debian's package "
            "(`apt-get install --no-install-recommends chromium`; scripts/bootstrap does)"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(executable), args=list(CHROMIUM_ARGS), headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class _Recorder:
    """Collects what the page does while it loads: errors, warnings, refused requests."""

    def __init__(self, own_url: str) -> None:
        self.own_url = own_url
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.blocked: list[str] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        if url.split("#", 1)[0] == self.own_url:
            route.continue_()
            return
        self.blocked.append(url)
        route.abort("blockedbyclient")

    def web_socket(self, socket: WebSocketRoute) -> None:
        self.blocked.append(socket.url)
        socket.close(code=1008, reason="the report must not use the network")

    def console(self, message: ConsoleMessage) -> None:
        where = message.location.get("url", "")
        line = f"{message.text} ({where}:{message.location.get('lineNumber', '?')})"
        if message.type == "error":
            self.errors.append(line)
        elif message.type == "warning":
            self.warnings.append(line)

    def page_error(self, error: Error) -> None:
        self.errors.append(f"{error.name}: {error.message}" if error.name else error.message)

    def crash(self, _page: Page) -> None:
        self.errors.append("the page crashed")


def _measure(page: Page, elements: Mapping[str, str]) -> dict[str, tuple[ElementBox, ...]]:
    """Each selector's matches, measured in one round trip per selector."""
    return {
        name: tuple(ElementBox(name, *box) for box in page.locator(selector).evaluate_all(_BOXES))
        for name, selector in elements.items()
    }


def view_report(
    html: Path,
    screenshot: Path,
    *,
    elements: Mapping[str, str] = REPORT_ELEMENTS,
    browser: Browser | None = None,
) -> BrowserView:
    """Open ``html`` from disk in headless Chromium with no network, wait until Bokeh has drawn
    every figure, measure ``elements``, and save a full-page PNG to ``screenshot``.

    ``browser``: one from :func:`headless_chromium` to share; without it one is launched and
    closed. Raises :class:`ChromiumMissingError` when Debian's Chromium is not installed."""
    if not html.is_file():
        raise FileNotFoundError(f"no page to view at {html}")
    started = time.monotonic()
    if browser is None:
        with headless_chromium() as own:
            return _view(own, html, screenshot, elements, started)
    return _view(browser, html, screenshot, elements, started)


def _view(
    browser: Browser, html: Path, screenshot: Path, elements: Mapping[str, str], started: float
) -> BrowserView:
    url = html.resolve().as_uri()
    recorder = _Recorder(url)
    context = browser.new_context(offline=True, viewport=VIEWPORT, service_workers="block")
    try:
        context.route("**/*", recorder.route)
        context.route_web_socket("**/*", recorder.web_socket)
        page = context.new_page()
        page.on("console", recorder.console)
        page.on("pageerror", recorder.page_error)
        page.on("crash", recorder.crash)
        page.goto(url, wait_until="load", timeout=LOAD_TIMEOUT_MS)
        try:
            page.wait_for_function(_BOKEH_IDLE, timeout=RENDER_TIMEOUT_MS)
        except PlaywrightTimeout:
            recorder.errors.append(
                f"Bokeh had not drawn its document {RENDER_TIMEOUT_MS / 1000:g} s after load"
            )
        page.evaluate(_TWO_FRAMES)  # let the last paint land before reading the canvases
        plots = int(page.evaluate(_BOKEH_FIGURES))
        ink = tuple(int(pixels) for pixels in page.locator(FIGURES).evaluate_all(_FIGURE_INK))
        measured = _measure(page, elements)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=screenshot, full_page=True, animations="disabled")
    finally:
        context.close()
    return BrowserView(
        page=html,
        errors=tuple(recorder.errors),
        warnings=tuple(recorder.warnings),
        blocked_requests=tuple(recorder.blocked),
        elements=measured,
        plots_in_document=plots,
        figure_ink=ink,
        screenshot=screenshot,
        screenshot_size=_png_size(screenshot),
        seconds=time.monotonic() - started,
    )


def view_run_report(run_dir: Path, *, browser: Browser | None = None) -> BrowserView:
    """View ``run_dir``'s report.html, its screenshot saved as ``run_dir/report.png``."""
    return view_report(run_dir / "report.html", run_dir / SCREENSHOT_FILE, browser=browser)
