"""Rows of text as aligned columns for the terminal (what ``compare`` and ``trend`` print).

Plain text, no box drawing: the lines read the same in a CI log, a file or a terminal, and a
value such as ``[failed]`` is never taken for markup (the CLI prints them with
:func:`~chaosgate.cli_common.print_plain`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["subject_table", "text_table"]

_GAP = "  "


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """``header`` and ``rows`` as lines, each column as wide as its widest cell (the last
    column left unpadded, so no line ends in blanks). A row shorter than the header is
    padded with empty cells."""
    width = len(header)
    cells = [list(header), *([*row, *[""] * (width - len(row))][:width] for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(width)]
    return [
        _GAP.join(cell.ljust(widths[column]) for column, cell in enumerate(line)).rstrip()
        for line in cells
    ]


def subject_table(header: Sequence[str], rows: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Rows of ``(subject, cells)`` as :func:`text_table` lines under each subject: a subject
    (an alert's title is long) on a line of its own where it changes, its rows indented below
    it, so the value columns stay narrow and aligned across every subject."""
    table = text_table([f"  {header[0]}", *header[1:]], [[f"  {c[0]}", *c[1:]] for _, c in rows])
    lines, current = [table[0]], None
    for (subject, _), line in zip(rows, table[1:], strict=True):
        if subject != current:
            current = subject
            lines.append(subject)
        lines.append(line)
    return lines
