"""Reading a file a user names (a target, a password file, an experiment): never blocking,
never more than a bound.

:func:`read_input_text` refuses anything that is not a regular file before opening it (a
FIFO, a device such as ``/dev/zero``, a socket, a directory), opens with ``O_NONBLOCK`` (so
a FIFO swapped in between is no hang either) and checks again on the open file, and reads at
most :data:`MAX_INPUT_BYTES` (1 MiB): a bigger file is refused, naming the limit. Every problem
is an :class:`InputFileError` whose message is the reason, to follow the file's name.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = [
    "MAX_INPUT_BYTES",
    "InputFileError",
    "file_kind",
    "is_regular_file",
    "read_input_text",
]

MAX_INPUT_BYTES = 1 << 20
"""The most a target, password or experiment file may hold (1 MiB)."""

_PATH_FIX = "give the path of a regular file"
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class InputFileError(Exception):
    """A file cannot be read as input: ``reason`` (what is wrong) and ``fix`` (how to put it
    right, when the caller has no better one); ``str()`` is both."""

    def __init__(self, reason: str, fix: str = "give the path of a regular file") -> None:
        self.reason = reason
        self.fix = fix
        super().__init__(f"{reason}; {fix}")

    def message(self, fix: str | None = None) -> str:
        """``reason; fix``, with the caller's ``fix`` for a path that names no usable file."""
        return f"{self.reason}; {fix if fix is not None and self.fix == _PATH_FIX else self.fix}"


def _limit_text(limit: int) -> str:
    return f"{limit // (1 << 20)} MiB" if limit % (1 << 20) == 0 else f"{limit} bytes"


def _check_kind(mode: int, limit: int, size: int) -> None:
    for test, kind in _KINDS:
        if test(mode):
            raise InputFileError(f"is {kind}, not a regular file")
    if not stat.S_ISREG(mode):
        raise InputFileError("is not a regular file")
    if size > limit:
        raise InputFileError(
            f"is {size} bytes, more than the {_limit_text(limit)} an input file may hold",
            "give a smaller file",
        )


def _os_error(exc: OSError) -> InputFileError:
    if isinstance(exc, FileNotFoundError):
        return InputFileError("does not exist")
    if isinstance(exc, PermissionError):
        return InputFileError("cannot be read (permission denied)", "check its permissions")
    return InputFileError(
        f"cannot be read ({exc.strerror or exc})", "check the path and its permissions"
    )


def read_input_text(path: str | os.PathLike[str], *, limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of the regular file ``path`` (``~`` is not expanded here), at most
    ``limit`` bytes; raises :class:`InputFileError` otherwise."""
    name = os.fspath(path)
    if not name:
        raise InputFileError("is an empty path")
    if "\x00" in name:
        raise InputFileError("has a NUL character in its path")
    try:
        before = os.stat(name)
        _check_kind(before.st_mode, limit, before.st_size)
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        fd = os.open(name, flags)
    except OSError as exc:
        raise _os_error(exc) from None
    try:
        opened = os.fstat(fd)
        _check_kind(opened.st_mode, limit, opened.st_size)
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise _os_error(exc) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise InputFileError(
            f"holds more than the {_limit_text(limit)} an input file may hold",
            "give a smaller file",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"is not UTF-8 text (byte {exc.start} is not)", "save it as UTF-8"
        ) from None


def is_regular_file(path: str | Path) -> bool:
    """True when ``path`` names a regular file (following links); never raises."""
    return file_kind(path) == "a regular file"


def file_kind(path: str | Path) -> str | None:
    """What ``path`` names: "a regular file", "a directory", "a FIFO (named pipe)", ...;
    None when nothing is there (or the path cannot name a file). Never raises."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return None
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((kind for test, kind in _KINDS if test(mode)), "not a regular file")
