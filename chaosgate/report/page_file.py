"""What report.html and the pages beside it share: their templates and how a page is written.

``chaosgate compare`` and ``chaosgate trend`` write one HTML file each, to a path the user may
choose. The templates (report.html's too) are Jinja2 with autoescape on (every value from a
run is escaped) and undefined names are errors. A page is written whole or not at all (written
aside, then renamed), and a path it cannot be written to is a :class:`PageWriteError` naming
it, which the command line reports as bad input.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment

__all__ = ["PageWriteError", "page_templates", "safe_file_part", "write_page"]


@functools.cache
def page_templates() -> Environment:
    """The templates' environment, made on first use (the command line imports this module
    for :class:`PageWriteError` and need not load Jinja2 for commands that write no page)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(
        loader=PackageLoader("chaosgate.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


class PageWriteError(Exception):
    """The page could not be written where it was asked to go; the message says why."""


def safe_file_part(text: str) -> str:
    """``text`` fit for a file name: characters other than letters, digits, ``.``, ``_`` and
    ``-`` become ``_`` (a run id or profile name comes from a summary anyone may write)."""
    part = "".join(
        char if char.isascii() and (char.isalnum() or char in "._-") else "_" for char in text
    )
    return part.lstrip(".") or "_"


def write_page(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` (UTF-8) whole or not at all; ``path``."""
    if path.is_dir():
        raise PageWriteError(f"{path} is a folder: give the path of the HTML file to write")
    if not path.parent.is_dir():
        raise PageWriteError(
            f"cannot write {path}: its folder {path.parent} does not exist (create it first)"
        )
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    except OSError as exc:
        raise PageWriteError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return path
