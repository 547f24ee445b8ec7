"""How the command line reports an expected error: one plain line on stderr.

``chaosgate: error: <message>``: the message printed literally (never read as rich markup or
emoji codes, so ``[/x]``, ``:x:`` and ``http://[zz]:1`` appear as given), on one line
(a line break becomes a space, other control characters are escaped as ``\\x00``), and at most
:data:`MAX_MESSAGE_CHARS` long. Usage errors of the option parser (click's: a missing or
unknown option, a value that is not a number) come out the same way, with the command's
``--help`` as the fix.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Sequence
from typing import TextIO

from typer import TyperException

__all__ = [
    "MAX_MESSAGE_CHARS",
    "PREFIX",
    "is_help_request",
    "one_line",
    "print_error",
    "usage_message",
]

PREFIX = "chaosgate: error: "
MAX_MESSAGE_CHARS = 2000
# the start of the parser's message or of a sentence inside it: "Invalid value ...: Input ..."
_SENTENCE_START = re.compile(r"(^|: )([A-Z])(?=[a-z])")


_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def _visible(char: str) -> str:
    if char in _LINE_BREAKS or char == "\t":
        return " "
    return char if char.isprintable() else repr(char)[1:-1]


def one_line(message: str) -> str:
    """``message`` on one line: each line break or tab becomes a space, other control
    characters are escaped (``\\x00``), and a message over MAX_MESSAGE_CHARS is cut with '...'."""
    text = "".join(_visible(char) for char in message).strip()
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 3] + "..."
    return text


def print_error(message: str, stream: TextIO | None = None) -> None:
    """Write ``chaosgate: error: <message>`` as one plain line to ``stream`` (stderr)."""
    out = sys.stderr if stream is None else stream
    out.write(PREFIX + one_line(message) + "\n")
    out.flush()


def _given(opts: Sequence[str], argv: Sequence[str]) -> list[str]:
    """The values ``argv`` gives the option named ``opts`` (``--users 3`` or ``--users=3``)."""
    values = []
    for index, arg in enumerate(argv):
        name, sep, value = arg.partition("=")
        if name in opts and sep:
            values.append(value)
        elif arg in opts and index + 1 < len(argv):
            values.append(argv[index + 1])
    return values


def is_help_request(exc: TyperException) -> bool:
    """True for the parser's "no arguments: show the help" (a bare ``chaosgate``)."""
    return type(exc).__name__ == "NoArgsIsHelpError"


def usage_message(exc: TyperException, argv: Sequence[str] = ()) -> str:
    """A usage error of the option parser as one message: the command, what is wrong (with
    the value ``argv`` gave the option, when the parser's own text leaves it out), and where
    to read what the command takes."""
    ctx = getattr(exc, "ctx", None)
    words = list(itertools.takewhile(lambda arg: not arg.startswith("-"), argv))
    command = getattr(ctx, "command_path", None) or " ".join(["chaosgate", *words])
    reason = exc.format_message().strip().rstrip(".")
    reason = _SENTENCE_START.sub(lambda m: m.group(1) + m.group(2).lower(), reason)
    param = getattr(exc, "param", None)
    opts = list(getattr(param, "opts", ()) or ()) + list(getattr(param, "secondary_opts", ()) or ())
    values = _given(opts, argv) if opts else []
    if values and not any(repr(value) in reason for value in values):
        reason += f" (given {', '.join(repr(value) for value in values)})"
    return f"{command}: {reason}; see '{command} --help'"
