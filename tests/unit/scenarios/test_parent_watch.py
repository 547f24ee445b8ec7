"""A load started by a runner ends when the runner is SIGKILLed: a real Locust (the suite's
locustfile, headless, against a closed loopback port) under a stand-in runner process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[3]

# the stand-in runner: starts Locust as `chaosgate run` does, prints its pid, then waits
RUNNER = """
import os, subprocess, sys, time
env = dict(os.environ, CHAOSGATE_RUN_ID="parent-watch-test", CHAOSGATE_LEDGER_DIR=sys.argv[1])
proc = subprocess.Popen(
    [sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless", "--host",
     "http://127.0.0.1:9", "--users", "1", "--spawn-rate", "1", "--run-time", "120s",
     "--only-summary", "Customer"],
    env=env, stdout=subprocess.DEVNULL, stderr=open(sys.argv[2], "wb"),
)
print(proc.pid, flush=True)
time.sleep(300)
"""


@pytest.mark.processes
def test_locust_quits_soon_after_its_runner_is_killed(tmp_path: Path) -> None:
    log = tmp_path / "locust.log"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(tmp_path / "ledger"), str(log)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert runner.stdout is not None
    locust = psutil.Process(int(runner.stdout.readline()))
    try:
        wait_until(  # Locust is up and sending when its ledger appears
            lambda: list(tmp_path.glob("ledger/*")),
            timeout_s=60,
            interval_s=0.2,
            message=lambda: f"Locust's ledger; its log: {log.read_text()[-2000:]}",
        )
        assert locust.is_running(), log.read_text()[-2000:]
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        killed_at = time.monotonic()
        locust.wait(timeout=15)
        took = time.monotonic() - killed_at
    finally:
        if locust.is_running():
            locust.kill()
    assert took < 8, f"Locust outlived its runner by {took:.1f} s"
    assert "the runner" in log.read_text()
