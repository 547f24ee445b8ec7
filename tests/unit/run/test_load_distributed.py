"""`chaosgate run --workers 2`'s load, as the run starts it (start_load), against a loopback
server of the test's own: a Locust master and two local workers, each in its own directory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chaosgate.request_ledger import read_ledger
from chaosgate.run.load import start_load
from chaosgate.run.load_workers import with_distribution
from chaosgate.run.profiles import PROFILES
from tests.support.servers import KeepAliveServer

pytestmark = pytest.mark.processes  # real Locust processes for about 12 s

MENU = json.dumps({"items": [{"id": 1, "name": "soup", "price_cents": 900}]}).encode()


@pytest.fixture
def host() -> Iterator[str]:
    served = KeepAliveServer("127.0.0.1", MENU)
    try:
        yield f"http://127.0.0.1:{served.port}"
    finally:
        served.close()


SMOKE = replace(PROFILES["smoke"], users=10, spawn_rate=10, duration_s=8, iot_devices=4)


def test_locust_s_own_processes_send_their_entries_to_their_master_too(
    host: str, tmp_path: Path
) -> None:
    load = start_load(replace(SMOKE, processes=2), host, tmp_path, run_id="processes-test")
    try:
        result = load.wait(timeout_s=90)
    finally:
        load.end(grace_s=2)

    log = result.log.read_text()[-3000:]
    assert result.exit_code == 0, log
    stats: list[dict[str, Any]] = json.loads((tmp_path / "locust" / "locust.json").read_text())
    counted = sum(int(entry["num_requests"]) for entry in stats)
    assert counted > 20, log
    assert len(read_ledger(tmp_path / "ledger")) == counted
    assert len(list((tmp_path / "ledger").glob("ledger-*.jsonl"))) == 1  # the master's
    assert (result.workers.workers, result.lost_workers, result.missing_entries) == (2, (), 0)


def test_two_local_workers_give_one_ledger_with_every_request_locust_counted(
    host: str, tmp_path: Path
) -> None:
    profile = with_distribution(SMOKE, workers=2)
    load = start_load(profile, host, tmp_path, run_id="distributed-load-test")
    try:
        result = load.wait(timeout_s=90)
    finally:
        load.end(grace_s=2)

    log = result.log.read_text()[-3000:]
    assert result.exit_code == 0, log
    stats: list[dict[str, Any]] = json.loads((tmp_path / "locust" / "locust.json").read_text())
    counted = sum(int(entry["num_requests"]) for entry in stats)
    entries = read_ledger(tmp_path / "ledger")
    assert counted > 20, log
    assert len(entries) == counted
    assert (result.workers.workers, result.workers.received) == (2, counted)
    assert (result.lost_workers, result.missing_entries) == ((), 0)
    for number in ("0", "1"):  # each worker ran in its own directory and wrote no ledger
        assert [p.name for p in (tmp_path / "workers" / number).iterdir()] == ["locust.log"]
    assert {entry.user.split("/")[1] for entry in entries} == {"0", "1"}
    assert all(worker.poll() is not None for worker in load.workers)
