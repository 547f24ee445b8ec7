"""The container log as the kubelet API serves it: the runs record, tailLines and limitBytes,
follow, the query, and which run a container's status points at (real files in tmp_path)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from refstack.node.logfiles import (
    CHUNK,
    copy_run,
    follow_run,
    record_run_start,
    run_starts,
    tail_start,
)
from refstack.node.logquery import LogError, LogQuery, parse_log_query
from refstack.node.podlogs import LogStatus, pick_run, stored_status


@dataclass
class Run:
    """A run of ``path`` from ``start``; ``ended`` is its end once the test says it ended."""

    path: Path
    start: int = 0
    ended: int | None = None
    asked: int = field(default=0)

    def end(self) -> int | None:
        self.asked += 1
        return self.ended


def _copy(run: Run, **options: int) -> bytes:
    out: list[bytes] = []
    copy_run(run, out.append, **options)
    return b"".join(out)


@pytest.mark.parametrize(
    ("text", "lines", "expected"),
    [
        (b"a\nb\nc\n", 2, b"b\nc\n"),
        (b"a\nb\nc\n", 3, b"a\nb\nc\n"),
        (b"a\nb\nc\n", 10, b"a\nb\nc\n"),
        (b"a\nb\nc\n", 0, b""),
        (b"a\nb\npartial", 1, b"partial"),  # a last line without its newline is a line
        (b"a\nb\npartial", 2, b"b\npartial"),
        (b"\n\n\n", 2, b"\n\n"),
        (b"", 3, b""),
    ],
)
def test_tail_lines_counts_lines_as_the_kubelet_does(
    tmp_path: Path, text: bytes, lines: int, expected: bytes
) -> None:
    log = tmp_path / "c.log"
    log.write_bytes(text)
    assert _copy(Run(log, ended=len(text)), tail_lines=lines) == expected


def test_tail_crosses_read_blocks_and_stops_at_the_runs_start(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    earlier = b"earlier run\n" * 10
    long_line = b"x" * (CHUNK + 17) + b"\n"
    log.write_bytes(earlier + long_line + b"y\n" + long_line)
    run = Run(log, start=len(earlier), ended=None)
    assert _copy(run, tail_lines=2) == b"y\n" + long_line
    assert _copy(run, tail_lines=3) == long_line + b"y\n" + long_line
    assert _copy(run, tail_lines=50) == long_line + b"y\n" + long_line  # not the earlier run
    with log.open("rb") as handle:
        assert tail_start(handle, len(earlier), log.stat().st_size, 1) == (
            len(earlier) + len(long_line) + 2
        )


def test_limit_bytes_cuts_after_the_tail(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_bytes(b"one\ntwo\nthree\n")
    assert _copy(Run(log), limit_bytes=5) == b"one\nt"
    assert _copy(Run(log), tail_lines=1, limit_bytes=3) == b"thr"
    assert _copy(Run(log), limit_bytes=1000) == b"one\ntwo\nthree\n"


def test_a_run_is_its_bytes_between_two_recorded_starts(tmp_path: Path) -> None:
    log, record = tmp_path / "c.log", tmp_path / "pod" / "c.runs"
    assert record_run_start(record, log) == 0  # no file yet
    log.write_bytes(b"first run\n")
    assert record_run_start(record, log) == 10
    with log.open("ab") as out:
        out.write(b"second run\n")
    assert run_starts(record) == [0, 10]
    assert _copy(Run(log, start=0, ended=10)) == b"first run\n"
    assert _copy(Run(log, start=10)) == b"second run\n"


def test_a_half_written_record_line_is_left_out(tmp_path: Path) -> None:
    record = tmp_path / "c.runs"
    record.write_text("0\n120\n35")
    assert run_starts(record) == [0, 120, 35]
    record.write_text("0\n120\n3x")
    assert run_starts(record) == [0, 120]
    assert run_starts(tmp_path / "missing.runs") == []


def test_a_missing_file_is_an_empty_log(tmp_path: Path) -> None:
    assert _copy(Run(tmp_path / "never.log")) == b""


def test_follow_streams_what_the_run_writes_until_it_ends_and_drains(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_bytes(b"old\nnew 1\n")
    run = Run(log, start=4)
    got: list[bytes] = []
    polls = 0

    def wait(_seconds: float) -> None:
        nonlocal polls
        polls += 1
        with log.open("ab") as out:
            out.write(b"new %d\n" % (polls + 1))
        if polls == 3:  # the container exits after its last line, before the node polls again
            with log.open("ab") as out:
                out.write(b"last words\n")
            run.ended = log.stat().st_size
            with log.open("ab") as out:
                out.write(b"the next run\n")

    written = follow_run(run, got.append, give_up=lambda: False, wait=wait, poll_s=0)
    body = b"".join(got)
    assert body == b"new 1\nnew 2\nnew 3\nnew 4\nlast words\n"
    assert written == len(body)


def test_follow_with_tail_and_limit(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_bytes(b"a\nb\nc\n")
    run = Run(log)
    got: list[bytes] = []

    def wait(_seconds: float) -> None:
        with log.open("ab") as out:
            out.write(b"dddd\n")

    follow_run(run, got.append, give_up=lambda: False, wait=wait, tail_lines=1, limit_bytes=8)
    assert b"".join(got) == b"c\ndddd\nd"  # 8 bytes: the tail, then what was written


def test_follow_gives_up_when_told(tmp_path: Path) -> None:
    log = tmp_path / "c.log"
    log.write_bytes(b"running\n")
    stop = threading.Event()
    calls = 0

    def give_up() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    got: list[bytes] = []
    follow_run(Run(log), got.append, give_up=give_up, wait=stop.wait, poll_s=0.01)
    assert b"".join(got) == b"running\n" and calls == 3


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", LogQuery()),
        ("follow=true&tailLines=10", LogQuery(follow=True, tail_lines=10)),
        ("previous=1&limitBytes=500", LogQuery(previous=True, limit_bytes=500)),
        ("follow=false&previous=FALSE&timestamps=false", LogQuery()),
        ("follow=0&tailLines=0&stream=All", LogQuery(tail_lines=0)),
        ("tailLines=&unknown=x", LogQuery()),
    ],
)
def test_query_options(query: str, expected: LogQuery) -> None:
    assert parse_log_query(query) == expected


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("sinceSeconds=60", "sinceSeconds is not supported"),
        ("sinceTime=2026-01-01T00:00:00Z", "sinceTime is not supported"),
        ("timestamps=true", "timestamps=true is not supported"),
        ("stream=Stderr", "stdout and stderr share one log file"),
        ("tailLines=-1", "tailLines: Invalid value: -1: must be greater than or equal to 0"),
        ("limitBytes=0", "limitBytes: Invalid value: 0: must be greater than 0"),
        ("tailLines=ten", "tailLines: 'ten' is not an integer"),
    ],
)
def test_what_the_node_cannot_serve_is_a_400_that_says_why(query: str, fragment: str) -> None:
    with pytest.raises(LogError) as info:
        parse_log_query(query)
    assert info.value.status == 400
    assert fragment in info.value.message


RUNNING_AGAIN = LogStatus("running", has_previous=True)
BACKING_OFF = LogStatus("waiting", "CrashLoopBackOff", has_previous=True)


@pytest.mark.parametrize(
    ("status", "runs", "previous", "index"),
    [
        (LogStatus("running"), 1, False, 0),
        (LogStatus("running"), 0, False, 0),  # no record: the whole file is the run
        (RUNNING_AGAIN, 3, False, 2),
        (RUNNING_AGAIN, 3, True, 1),
        (LogStatus("terminated", has_previous=True), 2, True, 0),
        (LogStatus("terminated"), 1, False, 0),  # a Job's finished container
        (BACKING_OFF, 2, False, 1),  # the run that just ended, as the kubelet serves it
        (BACKING_OFF, 2, True, 1),
    ],
)
def test_the_run_a_status_points_at(
    status: LogStatus, runs: int, previous: bool, index: int
) -> None:
    assert pick_run(status, runs, previous=previous, pod="p", container="c") == index


@pytest.mark.parametrize(
    ("status", "runs", "previous", "message"),
    [
        (LogStatus("running"), 1, True, 'previous terminated container "c" in pod "p" not found'),
        (RUNNING_AGAIN, 1, True, 'previous terminated container "c" in pod "p" not found'),
        (
            LogStatus("waiting", "ContainerCreating"),
            0,
            False,
            'container "c" in pod "p" is waiting to start: ContainerCreating',
        ),
        (
            LogStatus("waiting", "ErrImagePull"),
            0,
            False,
            'container "c" in pod "p" is waiting to start: image can\'t be pulled',
        ),
    ],
)
def test_no_such_run_is_the_kubelets_400(
    status: LogStatus, runs: int, previous: bool, message: str
) -> None:
    with pytest.raises(LogError) as info:
        pick_run(status, runs, previous=previous, pod="p", container="c")
    assert (info.value.status, info.value.message) == (400, message)


def test_a_stored_status_reads_as_the_runners_view_would() -> None:
    finished = {"state": {"terminated": {"exitCode": 0}}, "lastState": {}}
    assert stored_status(finished) == LogStatus("terminated")
    crashed = {
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1}},
    }
    assert stored_status(crashed) == BACKING_OFF
    assert stored_status({}) == LogStatus("waiting", "ContainerCreating")
