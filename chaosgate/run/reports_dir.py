"""``--reports DIR``: checked in the validate phase, so a run never fails at its end for want
of a place to write its reports."""

from __future__ import annotations

import tempfile
from pathlib import Path

from chaosgate.input_files import file_kind
from chaosgate.run.profiles import ProfileError

__all__ = ["check_reports_dir"]


def check_reports_dir(path: Path, option: str = "--reports") -> Path:
    """``path`` when reports can be written there: an existing directory, or a path whose
    nearest existing parent is a directory where this process can create files (probed with
    an unnamed temporary file, which leaves nothing behind). Raises :class:`ProfileError`."""
    head = f"{option} {str(path)!r}"
    how = "give a directory chaosgate may write in (it is created when missing)"
    if not str(path).strip():
        raise ProfileError(f"{head}: is empty; {how}")
    existing = Path(path).absolute()
    while file_kind(existing) is None and existing != existing.parent:
        existing = existing.parent
    kind = file_kind(existing)
    if kind != "a directory":
        what = (
            "is" if existing == Path(path).absolute() else f"is inside {str(existing)!r}, which is"
        )
        raise ProfileError(f"{head}: {what} {kind or 'missing'}, not a directory; {how}")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise ProfileError(
            f"{head}: cannot write in {str(existing)!r} ({exc.strerror or exc}); {how}"
        ) from None
    return path
