"""The log flood through the real services, rsyslog and OpenSearch: the platform's claimed rate
(the ``log-flood`` profile), and a seeded defect (the shipper stopped) that must fail it.

Both are part of the nightly proof (``-m long``): the full flood takes the machine's two cores
for a minute and a half.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from refstack.launcher.supervisor import SupervisorClient
from tests.integration.conftest import LocalStack
from tests.integration.support import chaosgate_env

pytestmark = [pytest.mark.integration, pytest.mark.long]

LOCAL = Path(__file__).resolve().parents[2] / "experiments" / "local"


def _run(stack: LocalStack, reports: Path, *options: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "chaosgate", "run", "--reports", str(reports), *options],
        capture_output=True,
        text=True,
        timeout=900,
        env=chaosgate_env(stack.ports, stack.layout.state_dir),
        check=False,
    )
    [summary_file] = reports.glob("*/summary.json")
    print(proc.stdout[-3000:])
    return proc.returncode, json.loads(summary_file.read_text()), proc.stdout


def _flood_check(summary: dict[str, Any]) -> dict[str, Any]:
    checks: list[dict[str, Any]] = summary["checks"]
    [check] = [c for c in checks if c["name"].startswith("logs.flood")]
    return check


def test_ten_thousand_lines_a_second_reach_the_store(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    code, summary, _ = _run(local_stack, tmp_path, "--profile", "log-flood")
    check = _flood_check(summary)
    observed, cores = check["observed"], check["evidence"]["cpu_cores"]
    print(
        f"[figure] log flood: {observed['lines_per_s_written']:,.0f} lines/s written for "
        f"{check['evidence']['written_s']:.0f} s ({observed['written']:,} lines), "
        f"{observed['searchable_share']:.4%} searchable by the deadline, store intake "
        f"{observed['store_intake_per_s']} lines/s, all in {observed['all_searchable_after_s']} s "
        f"after the flood; cores: {cores}"
    )
    assert {"rsyslog", local_stack.store.name, "gateway", "machine_busy"} <= set(cores)
    assert check["status"] == "passed", check["reason"]
    assert code == 0, summary["failed_checks"]


def test_a_stopped_shipper_fails_the_flood(local_stack: LocalStack, tmp_path: Path) -> None:
    experiment = json.loads((LOCAL / "log-flood.json").read_text())
    experiment["method"][0]["provider"]["arguments"].update(
        lines_per_s=2000, duration_s=10, deadline_s=5
    )
    small = tmp_path / "small-log-flood.json"
    small.write_text(json.dumps(experiment))
    supervisor = SupervisorClient(local_stack.layout.supervisor_socket)
    supervisor.stop("rsyslog")
    try:
        code, summary, _ = _run(
            local_stack, tmp_path / "reports", "--profile", "smoke", "--experiment", str(small)
        )
    finally:
        supervisor.start("rsyslog")
    check = _flood_check(summary)
    assert code == 1
    assert check["status"] == "failed"
    assert check["observed"]["written"] >= 19_000  # the services did write at the rate
    assert check["observed"]["searchable_by_deadline"] == 0
    assert "not searchable 5 s after the flood" in check["reason"]
