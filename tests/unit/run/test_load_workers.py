"""A distributed load's options: the master's Locust command, the checks of the addresses, the
account of the workers' ledger entries the run reads back."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assertions.result import Status
from chaosgate.cli import main
from chaosgate.run.load import LOCUSTFILE, locust_command
from chaosgate.run.load_workers import (
    WorkerAccount,
    parse_master_address,
    read_worker_account,
    with_distribution,
    worker_command,
    workers_check,
)
from chaosgate.run.profiles import PROFILES, ProfileError
from tests.support.waiting import wait_until

NIGHTLY = PROFILES["nightly"]  # two Locust processes


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_local_workers_make_locust_a_master_on_loopback_instead_of_processes() -> None:
    assert NIGHTLY.processes == 2
    profile = with_distribution(NIGHTLY, workers=3)
    command = locust_command(profile, "http://gw", Path("out/locust"), master_port=40001)
    assert "--master" in command and "--processes" not in command
    assert _option(command, "--master-bind-host") == "127.0.0.1"
    assert _option(command, "--master-bind-port") == "40001"
    assert _option(command, "--expect-workers") == "3"
    assert int(_option(command, "--expect-workers-max-wait")) > 0
    assert profile.processes == 1


def test_workers_from_elsewhere_and_here_are_all_expected_at_the_bound_address() -> None:
    profile = with_distribution(NIGHTLY, workers=1, expect_workers=4, master_bind="0.0.0.0:6000")
    command = locust_command(profile, "http://gw", Path("out/locust"), master_port=None)
    assert _option(command, "--master-bind-host") == "0.0.0.0"
    assert _option(command, "--master-bind-port") == "6000"
    assert _option(command, "--expect-workers") == "5"


def test_without_workers_the_command_is_today_s() -> None:
    assert with_distribution(NIGHTLY) is NIGHTLY
    command = locust_command(NIGHTLY, "http://gw", Path("out/locust"))
    assert "--master" not in command and _option(command, "--processes") == "2"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"expect_workers": 2}, "--expect-workers needs --master-bind"),
        ({"master_bind": "0.0.0.0:6000"}, "give --workers or --expect-workers"),
        ({"workers": 1, "master_bind": "6000"}, "give HOST:PORT"),
        ({"workers": 1, "master_bind": "host:99999"}, "give HOST:PORT"),
        ({"workers": -1}, ">= 0"),
    ],
)
def test_bad_distribution_options_say_what_to_give(options: dict[str, object], says: str) -> None:
    with pytest.raises(ProfileError, match=says):
        with_distribution(NIGHTLY, **options)  # type: ignore[arg-type]


def test_an_address_is_host_and_port_ipv6_in_brackets() -> None:
    assert parse_master_address("10.1.2.3:5557", "--master") == ("10.1.2.3", 5557)
    assert parse_master_address("[::1]:5557", "--master") == ("::1", 5557)


def test_a_worker_connects_to_its_master_with_the_suite_s_locustfile() -> None:
    command = worker_command(LOCUSTFILE, "10.1.2.3", 5557, processes=4)
    assert _option(command, "-f") == str(LOCUSTFILE) and "--worker" in command
    assert (_option(command, "--master-host"), _option(command, "--master-port")) == (
        "10.1.2.3",
        "5557",
    )
    assert _option(command, "--processes") == "4"


def test_run_refuses_expect_workers_without_an_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--expect-workers", "2", "--dry-run", "--reports", str(tmp_path)])
    assert code == 2
    assert "--master-bind HOST:PORT" in capsys.readouterr().err


def test_the_account_of_a_load_without_workers_is_empty(tmp_path: Path) -> None:
    account = read_worker_account(tmp_path)
    assert (account.workers, account.lost_workers, account.missing_entries) == (0, (), 0)


def test_the_account_names_lost_workers_and_missing_entries(tmp_path: Path) -> None:
    (tmp_path / "workers.json").write_text(
        json.dumps(
            {
                "workers": [{"worker": "a"}, {"worker": "b"}],
                "received": 120,
                "lost_workers": ["b"],
                "missing_entries": 7,
            }
        )
    )
    account = read_worker_account(tmp_path)
    assert (account.workers, account.received) == (2, 120)
    assert (account.lost_workers, account.missing_entries) == (("b",), 7)


def test_an_unreadable_account_is_a_loss_not_silence(tmp_path: Path) -> None:
    (tmp_path / "workers.json").write_text("{not json")
    account = read_worker_account(tmp_path)
    [lost] = account.lost_workers
    assert lost.startswith("unreadable ") and str(tmp_path) in lost


def test_the_load_check_passes_a_clean_account_and_errs_on_a_lost_worker() -> None:
    assert workers_check(WorkerAccount()) is None  # no workers, no check
    clean = workers_check(WorkerAccount(workers=2, received=500))
    assert clean is not None and clean.status is Status.PASSED
    lost = workers_check(
        WorkerAccount(workers=2, received=480, lost_workers=("vm_b",), missing_entries=6)
    )
    assert lost is not None and lost.status is Status.ERROR
    assert lost.observed["lost_workers"] == 1 and lost.observed["missing_entries"] == 6
    assert "vm_b" in lost.reason and "6 ledger entries missing" in lost.reason
    missing_only = workers_check(WorkerAccount(workers=1, received=9, missing_entries=1))
    assert missing_only is not None and missing_only.status is Status.ERROR


_CHILD = (  # a stand-in worker: notes its working directory, then sleeps argv[2] seconds
    "import os, sys, time; open(sys.argv[1], 'a').write(os.getcwd() + chr(10)); "
    "time.sleep(float(sys.argv[2]))"
)
_SERVE = f"""
import sys
from chaosgate.run.load_workers import serve_worker
child = [sys.executable, "-c", {_CHILD!r}, sys.argv[1], sys.argv[2]]
sys.exit(serve_worker(child, pause_s=float(sys.argv[3])))
"""


def _serve(
    tmp_path: Path, child_sleep_s: float, pause_s: float
) -> tuple[subprocess.Popen[str], Path]:
    log = tmp_path / "starts.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVE, str(log), str(child_sleep_s), str(pause_s)],
        cwd=Path(__file__).resolve().parents[3],
        text=True,
    )
    return proc, log


def _starts(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_a_served_worker_starts_again_in_a_fresh_directory_until_sigterm(tmp_path: Path) -> None:
    proc, log = _serve(tmp_path, child_sleep_s=0.05, pause_s=0.0)
    try:
        wait_until(lambda: len(_starts(log)) >= 3, timeout_s=20, message="three worker starts")
    finally:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    starts = _starts(log)
    assert len(set(starts)) == len(starts), "a worker reused a working directory"
    assert not any(Path(d).exists() for d in starts), "a worker's directory was left behind"


def test_sigterm_stops_the_running_worker_and_a_quick_exit_waits_out_the_pause(
    tmp_path: Path,
) -> None:
    proc, log = _serve(tmp_path, child_sleep_s=0.0, pause_s=30.0)
    try:
        wait_until(lambda: len(_starts(log)) >= 1, timeout_s=20, message="the first worker start")
        time.sleep(0.3)
        assert len(_starts(log)) == 1, "a worker that ended at once was restarted without pause"
    finally:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0  # not after the 30 s pause

    (tmp_path / "long").mkdir()
    proc, log = _serve(tmp_path / "long", child_sleep_s=60.0, pause_s=0.0)
    try:
        wait_until(lambda: len(_starts(log)) >= 1, timeout_s=20, message="the long worker start")
    finally:
        proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=5) == 0  # the 60 s worker was stopped, not waited for
