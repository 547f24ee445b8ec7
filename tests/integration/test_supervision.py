"""`stack down` stops what `stack up` started and nothing else; `status` reports a dead part.

These run a real supervisord in a temporary state dir with small programs of their own, so
they do not disturb the local stack the other integration tests use.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from refstack.launcher.health import PartRow
from refstack.launcher.launcher import stack_down, stack_status, start_supervisord
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import Part
from refstack.launcher.record import StackRecord
from refstack.launcher.supervisor import Program
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def test_down_stops_every_part_and_nothing_else(tmp_path: Path) -> None:
    layout = StackLayout.from_env(
        {"CHAOSGATE_STACK_DIR": str(tmp_path / "state"), "CHAOSGATE_CACHE": str(tmp_path)}
    )
    layout.ensure_dirs()
    parts = [Part(name, Program(name, ["sleep", "300"]), "", "") for name in ("one", "two")]
    outsider = subprocess.Popen(["sleep", "300"])
    try:
        client = start_supervisord(layout, parts)
        rows = [PartRow(part.name, part.url, part.health_url) for part in parts]
        StackRecord({}, client.pid(), time.time(), rows).save(layout.record_file)
        for part in parts:
            client.start(part.name)
        wait_until(
            lambda: all(p["statename"] == "RUNNING" for p in client.processes().values()),
            timeout_s=10,
            interval_s=0.1,
            message="both programs RUNNING",
        )
        pids = [int(info["pid"]) for info in client.processes().values()]
        supervisord_pid = client.pid()

        with httpx.Client() as http:
            statuses = stack_status(layout, http)
        assert statuses is not None
        assert [s.state for s in statuses] == ["up", "up"]

        # a part that dies and cannot come back shows as not up
        client.stop("two")
        with httpx.Client() as http:
            statuses = stack_status(layout, http)
        assert statuses is not None
        assert [s.state for s in statuses] == ["up", "down"]

        assert stack_down(layout, report=lambda _m: None) is True
        assert not _alive(supervisord_pid)
        assert not any(_alive(pid) for pid in pids)
        assert _alive(outsider.pid), "down stopped a process it did not start"
        assert not layout.record_file.exists()
        assert stack_down(layout, report=lambda _m: None) is False
        with httpx.Client() as http:
            assert stack_status(layout, http) is None
    finally:
        outsider.terminate()
        outsider.wait(timeout=10)
        if layout.supervisor_pidfile.exists() and layout.record_file.exists():
            os.kill(int(layout.supervisor_pidfile.read_text()), signal.SIGTERM)


def test_a_killed_program_is_restarted_by_supervisord(tmp_path: Path) -> None:
    layout = StackLayout.from_env(
        {"CHAOSGATE_STACK_DIR": str(tmp_path / "state"), "CHAOSGATE_CACHE": str(tmp_path)}
    )
    layout.ensure_dirs()
    parts = [
        Part(
            "worker",
            Program("worker", [sys.executable, "-c", "import time; time.sleep(300)"]),
            "",
            "",
        )
    ]
    client = start_supervisord(layout, parts)
    StackRecord({}, client.pid(), time.time(), [PartRow("worker", "", "")]).save(layout.record_file)
    try:
        client.start("worker")
        wait_until(
            lambda: client.process("worker")["statename"] == "RUNNING",
            timeout_s=10,
            interval_s=0.1,
            message="the worker RUNNING",
        )
        first = int(client.process("worker")["pid"])
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: (
                client.process("worker")["statename"] == "RUNNING"
                and int(client.process("worker")["pid"]) != first
            ),
            timeout_s=10,
            interval_s=0.1,
            message="supervisord restarting the killed program",
        )
    finally:
        stack_down(layout, report=lambda _m: None)
