"""The shared vocabulary: the one rule of "inside a fault", and a ledger line's round trip."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import chaosgate.vocabulary
from chaosgate.vocabulary import FaultWindow, LedgerEntry, in_fault

WINDOW = FaultWindow(100.0, 120.0, "kill-users-service")


@pytest.mark.parametrize(
    ("moment", "grace_s", "inside"),
    [
        (99.999, 0.0, False),
        (100.0, 0.0, True),  # the inject's moment
        (110.0, 0.0, True),
        (120.0, 0.0, True),  # the rollback's moment is still the fault's
        (120.001, 0.0, False),
        (98.0, 2.0, True),  # widened by the grace on both sides
        (122.0, 2.0, True),
        (97.999, 2.0, False),
        (122.001, 2.0, False),
    ],
)
def test_a_moment_is_inside_the_closed_window_widened_by_the_grace(
    moment: float, grace_s: float, inside: bool
) -> None:
    assert WINDOW.contains(moment, grace_s=grace_s) is inside
    assert in_fault(moment, [FaultWindow(0.0, 1.0), WINDOW], grace_s=grace_s) is inside


@pytest.mark.parametrize(
    ("first", "last", "grace_s", "touches"),
    [
        (90.0, 99.0, 0.0, False),  # ended before the inject
        (90.0, 100.0, 0.0, True),  # ended at the inject's moment
        (90.0, 130.0, 0.0, True),  # spans the whole window
        (105.0, 106.0, 0.0, True),
        (120.0, 125.0, 0.0, True),  # started at the rollback's moment
        (120.5, 125.0, 0.0, False),
        (120.5, 125.0, 1.0, True),
        (90.0, 98.5, 2.0, True),
        (90.0, 97.5, 2.0, False),
    ],
)
def test_a_span_touches_a_window_when_one_of_its_moments_is_inside(
    first: float, last: float, grace_s: float, touches: bool
) -> None:
    assert WINDOW.touches(first, last, grace_s=grace_s) is touches


def test_no_window_holds_no_moment() -> None:
    assert not in_fault(110.0, [])


def _entry(**changes: object) -> LedgerEntry:
    fields: dict[str, object] = {
        "trace_id": "0" * 31 + "1",
        "span_id": "0" * 15 + "1",
        "request_id": "r1",
        "scenario": "Customer",
        "method": "GET",
        "route": "/api/menu",
        "status": 200,
        "started_at": 1000.0,
        "latency_s": 0.25,
        **changes,
    }
    return LedgerEntry(**fields)  # type: ignore[arg-type]


def test_a_ledger_line_reads_back_as_the_entry_written() -> None:
    entry = _entry(user="Customer/0/3", error="")
    assert LedgerEntry.from_json(entry.to_json()) == entry
    assert entry.ended_at == 1000.25


def test_entries_read_back_share_their_repeated_strings_and_carry_no_dict() -> None:
    """What keeps a million entries small: the route, scenario, method, user and error of
    two lines are one object each, and an entry has slots, not a __dict__."""
    first, second = (
        LedgerEntry.from_json(_entry(request_id=rid, user="Customer/0/1").to_json())
        for rid in ("a-" + "1" * 20, "b-" + "2" * 20)
    )
    for name in ("scenario", "method", "route", "user"):
        assert getattr(first, name) is getattr(second, name), name
    assert first.request_id is not second.request_id
    assert not hasattr(first, "__dict__")


@pytest.mark.parametrize("line", ["[1, 2]", '{"trace_id": "x"}', "not json"])
def test_a_line_that_is_no_entry_raises_value_or_type_error(line: str) -> None:
    with pytest.raises((ValueError, TypeError)):
        LedgerEntry.from_json(line)


def test_an_unknown_field_is_refused() -> None:
    line = json.dumps({**json.loads(_entry().to_json()), "extra": 1})
    with pytest.raises(TypeError):
        LedgerEntry.from_json(line)


def test_the_vocabulary_imports_the_standard_library_only() -> None:
    """Importing it must cost the Locust side and the judges nothing (no client, no Locust)."""
    tree = ast.parse(Path(chaosgate.vocabulary.__file__).read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"__future__", "collections", "dataclasses", "json", "re", "sys", "typing"}
