"""The master's side of the ledger's transport, fed the messages its workers would send: what it
writes, and how it counts what never arrived."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from locust.env import Environment
from locust.rpc import Message
from locust.runners import MasterRunner

from chaosgate.request_ledger import read_ledger
from chaosgate.run.load_workers import read_worker_account
from scenarios.ledger import encode_line
from scenarios.ledger_transport import MESSAGE, LedgerReceiver
from tests.support.servers import closed_port
from tests.unit.scenarios.support import new_events


def _line(number: int) -> str:
    return encode_line(
        f"{number:032x}", f"{number:016x}", f"req-{number}", "Customer", "GET", "/api/menu",
        200, 1000.0 + number, 0.01, "", "Customer/0/0",
    )  # fmt: skip


def _batch(
    worker: str, seq: int, numbers: range, *, recorded: int, started: int = 0, final: bool = False
) -> Message:
    data = {
        "seq": seq,
        "recorded": recorded,
        "started": started or recorded,
        "lines": [_line(number) for number in numbers],
        "final": final,
        "index": 0 if worker == "a" else 1,
    }
    return Message(MESSAGE, data, worker)  # type: ignore[no-untyped-call]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[LedgerReceiver]:
    env = Environment(events=new_events())
    master = env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=closed_port())
    assert isinstance(master, MasterRunner)
    receiver = LedgerReceiver(tmp_path / "ledger", master)
    try:
        yield receiver
    finally:
        if not receiver.shutting_down:  # its on_quitting quit the master (a quit sleeps 0.5 s)
            master.quit()


def _account(tmp_path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((tmp_path / "ledger" / "workers.json").read_text())
    return document


def test_batches_of_two_workers_make_one_ledger_and_a_clean_account(
    receiver: LedgerReceiver, tmp_path: Path
) -> None:
    receiver.on_batch(None, _batch("a", 0, range(0, 3), recorded=3))
    receiver.on_batch(None, _batch("b", 0, range(10, 12), recorded=2))
    receiver.on_worker_report("a", {"stats_total": {"num_requests": 3}})
    receiver.on_worker_report("b", {"stats_total": {"num_requests": 2}})
    receiver.on_batch(None, _batch("a", 1, range(3, 4), recorded=4, final=True))
    receiver.on_batch(None, _batch("b", 1, range(12, 12), recorded=2, final=True))
    receiver.on_worker_report("a", {"stats_total": {"num_requests": 1}})
    receiver.on_quitting()

    assert len(read_ledger(tmp_path / "ledger")) == 6
    account = read_worker_account(tmp_path / "ledger")
    assert (account.workers, account.received) == (2, 6)
    assert (account.lost_workers, account.missing_entries) == ((), 0)


def test_a_worker_without_its_final_batch_is_lost_with_what_it_had_begun(
    receiver: LedgerReceiver, tmp_path: Path
) -> None:
    receiver.on_batch(None, _batch("a", 0, range(0, 5), recorded=5, final=True))
    receiver.on_batch(None, _batch("b", 0, range(10, 14), recorded=4))
    # then 3 more requests begun, none finished, and the worker is gone
    receiver.on_batch(None, _batch("b", 1, range(0), recorded=4, started=7))
    receiver.on_quitting()

    account = _account(tmp_path)
    assert account["lost_workers"] == ["b"]
    by_id = {worker["worker"]: worker for worker in account["workers"]}
    assert by_id["b"]["missing_entries"] == 3 and by_id["b"]["lost"]
    assert by_id["a"]["missing_entries"] == 0 and not by_id["a"]["lost"]
    assert account["missing_entries"] == 3 and account["received"] == 9


def test_locust_s_count_and_a_gap_in_the_batch_numbers_are_missing_entries(
    receiver: LedgerReceiver, tmp_path: Path
) -> None:
    receiver.on_batch(None, _batch("a", 0, range(0, 2), recorded=2))
    # batch 1 (2 lines) never came; batch 2 says 6 recorded so far
    receiver.on_batch(None, _batch("a", 2, range(4, 6), recorded=6, final=True))
    receiver.on_worker_report("a", {"stats_total": {"num_requests": 7}})  # one more
    receiver.on_quitting()

    [worker] = _account(tmp_path)["workers"]
    assert worker["missing_sequence"] == [1]
    assert worker["final"] and not worker["lost"]
    assert worker["missing_entries"] == 3  # Locust counted 7, 4 arrived


def test_a_stop_mid_request_is_unfinished_not_missing(
    receiver: LedgerReceiver, tmp_path: Path
) -> None:
    receiver.on_batch(None, _batch("a", 0, range(0, 4), recorded=4, started=6, final=True))
    receiver.on_quitting()

    [worker] = _account(tmp_path)["workers"]
    assert (worker["missing_entries"], worker["unfinished_requests"]) == (0, 2)
