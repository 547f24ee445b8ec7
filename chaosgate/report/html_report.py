"""report.html: one self-contained page per run, for the people who look at a run.

Built from the run folder alone (summary.json and ``ledger/*.jsonl``, :mod:`run_folder`), so
it is the same page whether the run writes it or ``chaosgate report RUN_DIR`` rewrites it for
an old folder. From the top: the verdict and the checks that did not pass with their reasons;
the timeline (:mod:`timeline_figure`); the fault windows; every check (status, expected,
observed, latency, reason, evidence folded away); the load, the faults the run recorded and
undid, the settings, seed and versions; the run's other files.

The page opens from disk with no network: Bokeh's script is inlined (``bokeh.resources.INLINE``)
and nothing is loaded from elsewhere (no CDN, font or image). Every value is escaped by the
template (Jinja2 with autoescape on); Bokeh escapes the figure's data itself.

Why Bokeh: it can inline its whole script (about 1.3 MB for the core bundle this page needs,
against Plotly's ~4.5 MB), and its figures share an x range and draw box annotations (the
fault windows across every panel) as built-in features, with no custom JavaScript.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bokeh.embed import file_html
from bokeh.resources import INLINE

from assertions.result import CheckResult, Status
from chaosgate.report.page_file import page_templates
from chaosgate.report.run_folder import RunFolder, read_run_folder
from chaosgate.report.timeline_data import FaultSpan, timeline_data
from chaosgate.report.timeline_figure import timeline_figure

__all__ = [
    "REPORT_FILE",
    "CheckRow",
    "check_rows",
    "render_html_report",
    "write_html",
    "write_html_report",
]

REPORT_FILE = "report.html"


def _mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping, else an empty one (a field another version left out)."""
    return value if isinstance(value, Mapping) else {}


def _json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, indent=indent, default=str, ensure_ascii=False)


def _utc(moment: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(moment))


@dataclass(frozen=True)
class CheckRow:
    """One check as the table shows it (text only; the template escapes it)."""

    name: str
    status: str
    expected: str  # compact JSON
    observed: str
    latency: str  # "1.234 s" or ""
    reason: str
    attempts: int
    evidence: str  # indented JSON, "" when there is none


def check_rows(checks: Sequence[CheckResult]) -> list[CheckRow]:
    """Every check in the run's order."""
    return [
        CheckRow(
            name=check.name,
            status=check.status.value,
            expected=_json(check.expected),
            observed=_json(check.observed),
            latency="" if check.latency_s is None else f"{check.latency_s:.3f} s",
            reason=check.reason,
            attempts=check.attempts,
            evidence=_json(dict(check.evidence), indent=2) if check.evidence else "",
        )
        for check in checks
    ]


def _fault_rows(spans: Sequence[FaultSpan]) -> list[dict[str, str]]:
    return [
        {
            "name": span.name,
            "title": span.title,
            "start": f"{span.start_s:.1f}",
            "end": f"{span.end_s:.1f}" if span.rolled_back else f"{span.end_s:.1f} (no rollback)",
            "duration": f"{span.end_s - span.start_s:.1f}",
            "status": span.status or "unknown",
        }
        for span in spans
    ]


def _recorded_faults(summary: Mapping[str, Any], origin: float) -> list[dict[str, str]]:
    rows = []
    for entry in summary.get("faults") or ():
        if not isinstance(entry, Mapping):
            continue
        undone = entry.get("undone_at")
        rows.append(
            {
                "title": str(entry.get("title", "")),
                "kind": str(entry.get("kind", "")),
                "state": str(entry.get("state", "")),
                "undone": f"+{undone - origin:.1f} s" if isinstance(undone, int | float) else "",
                "detail": str(entry.get("detail", "")),
            }
        )
    return rows


def _artifacts(summary: Mapping[str, Any]) -> list[dict[str, str]]:
    """The run's other files; a path is linked only when it is relative to the folder."""
    rows = []
    for name, path in _mapping(summary.get("artifacts")).items():
        text = str(path)
        local = "://" not in text and not text.startswith(("/", "\\")) and ":" not in text
        rows.append({"name": str(name), "path": text, "href": text if local else ""})
    return rows


def _settings(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The settings a reader looks for first, as (what, value) text."""
    profile, target = _mapping(settings.get("profile")), _mapping(settings.get("target"))
    command = settings.get("command")
    pairs = [
        ("profile", profile.get("name")),
        ("seed", settings.get("seed", profile.get("seed"))),
        ("users", profile.get("users")),
        ("duration (s)", profile.get("duration_s")),
        ("scenarios", profile.get("scenarios")),
        ("target", target.get("name")),
        ("chaos", target.get("chaos")),
        ("experiments", settings.get("experiments")),
        ("command", " ".join(map(str, command)) if isinstance(command, list) else command),
    ]
    return [
        (what, value if isinstance(value, str) else _json(value))
        for what, value in pairs
        if value is not None
    ]


def _run_versions(summary: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(what, version, detail) of chaosgate and of each part of the stack, as the run recorded
    them in summary.json's ``replay`` section; none for a run that recorded none."""
    replay = _mapping(summary.get("replay"))
    rows = []
    build = _mapping(replay.get("chaosgate"))
    if build:
        revision = build.get("git_revision")
        detail = f"git {str(revision)[:12]}" if revision else ""
        if revision and build.get("git_dirty"):
            detail += " with local changes"
        rows.append(("chaosgate", str(build.get("version") or "unknown"), detail))
    for name, info in sorted(_mapping(replay.get("parts")).items()):
        part = _mapping(info)
        if "error" in part:
            rows.append((str(name), "unknown", f"not read: {part['error']}"))
            continue
        facts = [f"{key} {part[key]}" for key in ("revision", "build_date") if part.get(key)]
        rows.append((str(name), str(part.get("version") or "unknown"), ", ".join(facts)))
    return rows


def _writer_versions() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    return {
        "chaosgate": version("chaosgate"),
        "bokeh": version("bokeh"),
        "python": platform.python_version(),
    }


def _context(
    folder: RunFolder, notes: Sequence[str], faults: Sequence[FaultSpan]
) -> dict[str, Any]:
    summary = folder.summary
    checks = folder.checks
    counts = {status.value: sum(1 for c in checks if c.status is status) for status in Status}
    load = _mapping(summary.get("load"))
    versions = summary.get("versions", folder.settings.get("versions"))
    return {
        "run_id": folder.run_id,
        "verdict": folder.verdict,
        "exit_code": str(summary.get("exit_code", "")),
        "profile": folder.profile_name,
        "replay_of": folder.replay_of or "",
        "started": _utc(folder.started_at),
        "finished": _utc(folder.finished_at),
        "duration": f"{folder.finished_at - folder.started_at:.1f}",
        "counts": counts,
        "failed": [c for c in checks if not c.passed],
        "checks": check_rows(checks),
        "notes": list(notes),
        "faults": _fault_rows(faults),
        "recorded_faults": _recorded_faults(summary, folder.started_at),
        "load": [(str(k), _json(v) if not isinstance(v, str) else v) for k, v in load.items()],
        "settings": _settings(folder.settings),
        "settings_json": _json(dict(folder.settings), indent=2),
        "versions": _run_versions(summary),
        "versions_json": "" if versions is None else _json(versions, indent=2),
        "writer": _writer_versions(),
        "artifacts": _artifacts(summary),
        "has_timeline": False,
    }


def render_html_report(folder: RunFolder) -> str:
    """The page of ``folder``'s run, as one HTML document."""
    data = timeline_data(folder)
    context = _context(folder, data.notes, data.faults)
    template = page_templates().get_template("report.html.j2")
    title = f"chaosgate {folder.run_id}: {folder.verdict}"
    figure = timeline_figure(data)
    if figure is None:
        empty = {"bokeh_js": "", "bokeh_css": "", "plot_script": "", "plot_div": ""}
        return template.render(title=title, **context, **empty)
    context["has_timeline"] = True
    return file_html(figure, INLINE, title, template=template, template_variables=context)


def write_html(folder: RunFolder) -> Path:
    """Write ``folder``'s report.html (whole or not at all: written aside, then renamed)."""
    path = folder.path / REPORT_FILE
    partial = path.with_name(f".{REPORT_FILE}.partial")
    try:
        partial.write_text(render_html_report(folder), encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_html_report(run_dir: Path) -> Path:
    """Read ``run_dir`` (summary.json and the ledger) and write its report.html."""
    return write_html(read_run_folder(run_dir))
