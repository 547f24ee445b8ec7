"""Container processes: own session, appended log, records a later agent cleans up."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import psutil

from refstack.node.processes import (
    forget_process,
    record_process,
    signal_group,
    spawn,
    stop_recorded_processes,
)
from tests.support.waiting import wait_until


def _gone(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def test_spawn_appends_stdout_and_stderr_to_the_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "ns_pod_c.log"
    log.parent.mkdir()
    log.write_text("earlier line\n")
    process = spawn(
        ["sh", "-c", "echo out; echo err >&2"], {"PATH": "/usr/bin:/bin"}, tmp_path, log
    )
    assert process.wait(10) == 0
    assert log.read_text().splitlines() == ["earlier line", "out", "err"]
    assert os.getsid(os.getpid()) != process.pid  # not ours: a session of its own


def test_spawn_raises_for_a_missing_program(tmp_path: Path) -> None:
    try:
        spawn(["definitely-not-a-program"], {"PATH": "/usr/bin"}, tmp_path, tmp_path / "l.log")
    except OSError as exc:
        assert "definitely-not-a-program" in str(exc)
    else:
        raise AssertionError("spawn did not fail")


def test_signal_group_reaches_the_children(tmp_path: Path) -> None:
    process = spawn(
        ["sh", "-c", "sleep 30 & echo $! > child; wait"],
        {"PATH": "/usr/bin:/bin"},
        tmp_path,
        tmp_path / "l.log",
    )
    child_file = tmp_path / "child"
    child = int(
        wait_until(
            lambda: child_file.read_text().strip() if child_file.exists() else None,
            timeout_s=5,
            message="the shell writing its child's pid",
        )
    )
    assert signal_group(process.pid, 9)
    process.wait(5)
    wait_until(lambda: _gone(child), timeout_s=5, message=f"the child {child} gone")
    wait_until(  # until the orphan's zombie is reaped by init
        lambda: not signal_group(process.pid, 0),
        timeout_s=10,
        message="the process group gone",
    )


def test_a_recorded_process_left_behind_is_stopped(tmp_path: Path) -> None:
    pods = tmp_path / "pods"
    leftover = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        record_process(pods / "uid-a" / "app.pid", leftover.pid)
        assert stop_recorded_processes(pods) == [leftover.pid]
        assert leftover.wait(5) == -9
        assert not list(pods.glob("*/*.pid"))
    finally:
        leftover.kill()


def test_a_reused_pid_is_not_touched(tmp_path: Path) -> None:
    pods = tmp_path / "pods"
    bystander = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        record = pods / "uid-b" / "app.pid"
        record.parent.mkdir(parents=True)
        # the recorded process started at another time: the PID now belongs to someone else
        record.write_text(json.dumps({"pid": bystander.pid, "started": 12345.0}))
        (pods / "uid-b" / "junk.pid").write_text("not json")
        assert stop_recorded_processes(pods) == []
        assert bystander.poll() is None
        assert not list(pods.glob("*/*.pid"))
    finally:
        bystander.kill()
        bystander.wait()


def test_forget_removes_the_record(tmp_path: Path) -> None:
    record = tmp_path / "p" / "c.pid"
    record_process(record, os.getpid())
    assert record.exists()
    forget_process(record)
    forget_process(record)  # twice is fine
    assert not record.exists()
