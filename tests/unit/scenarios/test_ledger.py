"""The ledger's writing side: the line format and the buffered file."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from chaosgate.request_ledger import LedgerTail, read_ledger
from chaosgate.vocabulary import LedgerEntry
from scenarios.ledger import LedgerWriter, entry_line

texts = st.text(max_size=40)  # any unicode, quotes, backslashes and control characters
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)

entries = st.builds(
    LedgerEntry,
    trace_id=texts,
    span_id=texts,
    request_id=texts,
    scenario=texts,
    method=texts,
    route=texts,
    status=st.integers(min_value=0, max_value=599),
    started_at=times,
    latency_s=times,
    error=texts,
    user=texts,
)


@given(entries)
def test_a_line_is_exactly_the_entry_s_own_json(entry: LedgerEntry) -> None:
    line = entry_line(entry)
    assert line == entry.to_json()
    assert LedgerEntry.from_json(line) == entry


def _entry(number: int) -> LedgerEntry:
    return LedgerEntry(
        trace_id=f"{number:032x}",
        span_id=f"{number:016x}",
        request_id=f"req-{number}",
        scenario="Customer",
        method="GET",
        route="/api/menu",
        status=200,
        started_at=1000.0 + number,
        latency_s=0.01,
    )


def test_lines_reach_the_file_on_flush_and_when_enough_have_gathered(tmp_path: Path) -> None:
    writer = LedgerWriter(tmp_path, flush_lines=3)
    tail = LedgerTail(tmp_path)
    writer.write(_entry(1))
    writer.write(_entry(2))
    assert tail.new_entries() == []  # buffered
    writer.write(_entry(3))  # the third: written at once
    assert [entry.request_id for entry in tail.new_entries()] == ["req-1", "req-2", "req-3"]
    writer.write(_entry(4))
    writer.flush()
    assert [entry.request_id for entry in tail.new_entries()] == ["req-4"]
    assert writer.lines_written == 4


def test_close_writes_what_is_pending_and_later_writes_are_dropped(tmp_path: Path) -> None:
    writer = LedgerWriter(tmp_path)
    writer.write_lines(entry_line(_entry(number)) for number in range(5))
    writer.close()
    writer.write(_entry(9))
    writer.close()
    assert [entry.request_id for entry in read_ledger(tmp_path)] == [
        f"req-{number}" for number in range(5)
    ]
