"""`chaosgate replay` on the real local stack: a seeded run, then its replay with Locust's web UI.

What a replay promises and this proves: per simulated user, the same sequence of (scenario,
method, route) as the recorded run, and each fault played within 1 s of its recorded offsets
from the load's start. The run's users are restaurant guests and kitchen devices without
kitchen staff: a guest's visit then depends only on its seeded choices (how many times it looks
at its order) as long as the stack answers, and the fault (the log shipper stopped) changes no
answer. Kitchen staff would serve orders at moments no seed fixes, and a guest whose order is
served sooner stops looking at it sooner (the README says so).

A sequence is compared up to the shorter of the two: when the load ends, a user is somewhere in
its visit, and where depends on how fast the stack answered.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaosgate.request_ledger import read_ledger
from chaosgate.vocabulary import LedgerEntry
from tests.integration.conftest import LocalStack
from tests.integration.support import chaosgate_env

pytestmark = pytest.mark.integration

SEED = 4242
# the fault starts at +20 s and holds 30 s; the load ends with it
RUN = ("--profile", "smoke", "--duration", "50", "--seed", str(SEED), "--scenario", "Customer",
       "--scenario", "IoTDevice", "--experiment", "stop-log-shipper")  # fmt: skip
# the logs of the stopped shipper's window are missing either way: no need to wait 30 s for them
ENV = {"CHAOSGATE_DEADLINES__TRACES_S": "10", "CHAOSGATE_DEADLINES__LOGS_S": "10"}
WEB_URL = re.compile(r"Locust's web UI: (http://127\.0\.0\.1:\d+)")


def _summary(run_dir: Path) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return summary


def _sequences(run_dir: Path) -> dict[str, list[tuple[str, str, str]]]:
    by_user: dict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in read_ledger(run_dir / "ledger"):
        by_user[entry.user].append(entry)
    return {
        user: [(e.scenario, e.method, e.route) for e in sorted(sent, key=lambda e: e.started_at)]
        for user, sent in by_user.items()
    }


def _read_output(proc: subprocess.Popen[str], lines: list[str], url: dict[str, str]) -> None:
    """Collect the replay's output as it comes; note the web UI's URL when it is printed."""
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        match = WEB_URL.search(line)
        if match:
            url.setdefault("url", match[1])


def _ask_web_ui(url: dict[str, str], running: Callable[[], bool]) -> dict[str, Any]:
    """Locust's own pages, asked while the replay runs (it prints the URL as Locust starts, so
    the first tries may be refused)."""
    with httpx.Client(timeout=5.0) as http:
        while running():
            if "url" in url:
                try:
                    page = http.get(url["url"])
                    stats = http.get(f"{url['url']}/stats/requests").json()
                except httpx.HTTPError:
                    pass
                else:
                    if page.status_code == 200 and stats.get("total_rps") is not None:
                        return {"page": page.status_code, "stats": stats}
            time.sleep(0.5)
    return {}


@pytest.mark.timeout(600)
def test_a_replay_sends_each_users_requests_again_and_plays_the_fault_on_time(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    env = {**chaosgate_env(local_stack.ports, local_stack.layout.state_dir), **ENV}
    reports = tmp_path / "reports"
    original = subprocess.run(
        [sys.executable, "-m", "chaosgate", "run", "--reports", str(reports), *RUN],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    [original_dir] = [p.parent for p in reports.glob("*/summary.json")]
    assert original.returncode in (0, 1), original.stdout[-3000:] + original.stderr[-3000:]

    replay = subprocess.Popen(
        [sys.executable, "-m", "chaosgate", "replay", str(original_dir), "--web"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    url: dict[str, str] = {}
    reader = threading.Thread(target=_read_output, args=(replay, lines, url), daemon=True)
    reader.start()
    try:
        web = _ask_web_ui(url, lambda: replay.poll() is None)
        replay.wait(timeout=300)
    finally:
        if replay.poll() is None:
            replay.kill()
    reader.join(timeout=30)
    output = "".join(lines)
    print(output[-5000:])
    assert replay.returncode in (0, 1), output[-3000:]
    # Locust's web UI ran while the load played, on the printed local URL
    assert "url" in url, "the replay printed no web UI URL"
    assert web.get("page") == 200, (url, web)
    assert isinstance(web["stats"].get("stats"), list), web

    [replay_dir] = [p.parent for p in reports.glob("*/summary.json") if p.parent != original_dir]
    recorded, replayed = _summary(original_dir), _summary(replay_dir)
    assert replayed["replay"]["replay_of"]["run_id"] == recorded["run_id"]
    assert (replay_dir / f"compare-{recorded['run_id']}.html").is_file()
    assert "then (A)" in output and "now (B)" in output  # the side-by-side comparison

    # each user: the same requests in the same order, as far as both runs got
    then, now = _sequences(original_dir), _sequences(replay_dir)
    assert "" not in then and "" not in now, "a ledger entry names no user"
    common = sorted(set(then) & set(now))
    assert len(common) >= 8 and {u.split("/")[0] for u in common} == {"Customer", "IoTDevice"}
    compared = 0
    for user in common:
        length = min(len(then[user]), len(now[user]))
        assert then[user][:length] == now[user][:length], user
        compared += length
    visits = [u for u in common if u.startswith("Customer/") and min(len(then[u]), len(now[u])) > 5]
    assert visits, "no guest got past its first visit in both runs: nothing was compared"
    print(f"[figure] replay: {compared} requests of {len(common)} users in the same order")

    # the fault: started and injected within 1 s of the recorded offsets
    faults_then = {f["experiment_index"]: f for f in recorded["replay"]["faults"]}
    faults_now = {f["experiment_index"]: f for f in replayed["replay"]["faults"]}
    assert faults_then.keys() == faults_now.keys() == {0}
    for index, fault in faults_then.items():
        for moment in ("started_s", "inject_s"):
            drift = abs(faults_now[index][moment] - fault[moment])
            print(f"[figure] replay: fault {index} {moment} {fault[moment]} -> "
                  f"{faults_now[index][moment]} (drift {drift:.3f} s)")  # fmt: skip
            assert drift <= 1.0, (moment, fault, faults_now[index])
