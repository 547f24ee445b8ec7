"""A distributed load: the run's Locust as the master of Locust workers, in Locust's own mode.

``chaosgate run --workers N`` starts N worker processes on this machine, each in a directory
of its own under the run's folder (``RUN_DIR/workers/<n>/``, with its log); ``--expect-workers
N --master-bind HOST:PORT`` makes the master wait for N workers started elsewhere
(``chaosgate worker --master HOST:PORT``, or plain ``locust --worker --master-host HOST
--master-port PORT -f <the suite's locustfile>``). Both can be given: the master waits for
all of them. The workers send their ledger entries to the master over Locust's messaging
(:mod:`scenarios.ledger_transport`); the master writes the run's one ledger file and, beside
it, ``workers.json``: per worker what arrived, and which workers were lost before their final
batch with how many entries missing (:func:`read_worker_account`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assertions.result import CheckResult, Status
from chaosgate.run.profiles import Profile, ProfileError

__all__ = [
    "DEFAULT_MASTER_PORT",
    "EXPECT_WORKERS_MAX_WAIT_S",
    "LOCAL_MASTER_HOST",
    "WorkerAccount",
    "master_options",
    "parse_master_address",
    "read_worker_account",
    "run_worker",
    "serve_worker",
    "with_distribution",
    "worker_command",
    "workers_check",
]

LOCAL_MASTER_HOST = "127.0.0.1"  # where the master listens for --workers alone
DEFAULT_MASTER_PORT = 5557  # Locust's own default
EXPECT_WORKERS_MAX_WAIT_S = 60  # the master gives up (exit 1) when its workers do not come
SERVE_PAUSE_S = 5.0  # `--serve`: the least time between two workers' starts
ACCOUNT_FILE = "workers.json"  # scenarios.ledger_transport.ACCOUNT_FILE (no Locust import here)


def parse_master_address(text: str, option: str) -> tuple[str, int]:
    """``HOST:PORT`` (an IPv6 host in brackets) as host and port; ProfileError if not one."""
    host, sep, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not (sep and host and port_text.isdigit() and 0 < int(port_text) < 65536):
        raise ProfileError(
            f"{option} {text!r}: give HOST:PORT, e.g. 192.0.2.10:{DEFAULT_MASTER_PORT}"
        )
    return host, int(port_text)


def with_distribution(
    profile: Profile, *, workers: int = 0, expect_workers: int = 0, master_bind: str = ""
) -> Profile:
    """``profile`` with its load distributed (``chaosgate run``'s options), checked. The
    workers take the place of the profile's ``--processes``: a Locust master forks none."""
    if workers < 0 or expect_workers < 0:
        raise ProfileError("--workers and --expect-workers take a number of workers >= 0")
    if expect_workers and not master_bind:
        raise ProfileError(
            "--expect-workers needs --master-bind HOST:PORT, the address the workers started"
            f" elsewhere connect to (e.g. 0.0.0.0:{DEFAULT_MASTER_PORT})"
        )
    if master_bind:
        parse_master_address(master_bind, "--master-bind")
    if not (workers or expect_workers):
        if master_bind:
            raise ProfileError("--master-bind is for a master: give --workers or --expect-workers")
        return profile
    return replace(
        profile,
        processes=1,
        workers=workers,
        expect_workers=expect_workers,
        master_bind=master_bind,
    )


def master_options(profile: Profile, port: int) -> list[str]:
    """Locust's options that make the run's Locust the master of the profile's workers;
    ``port``: where it listens when the profile names no ``master_bind`` (local workers)."""
    host, bind_port = (
        parse_master_address(profile.master_bind, "--master-bind")
        if profile.master_bind
        else (LOCAL_MASTER_HOST, port)
    )
    return [
        "--master", "--master-bind-host", host, "--master-bind-port", str(bind_port),
        "--expect-workers", str(profile.workers + profile.expect_workers),
        "--expect-workers-max-wait", str(EXPECT_WORKERS_MAX_WAIT_S),
    ]  # fmt: skip


def worker_command(
    locustfile: Path, master_host: str, master_port: int, *, processes: int = 1
) -> list[str]:
    """A Locust worker of the master at ``master_host:master_port``."""
    command = [
        sys.executable, "-m", "locust", "-f", str(locustfile), "--worker",
        "--master-host", master_host, "--master-port", str(master_port),
    ]  # fmt: skip
    if processes > 1:
        command += ["--processes", str(processes)]
    return command


def run_worker(locustfile: Path, master: str, *, processes: int = 1) -> int:
    """``chaosgate worker``: a Locust worker in the foreground, in a fresh working directory
    (Locust reads a locust.conf it finds there), until its master ends it; its exit code."""
    host, port = parse_master_address(master, "--master")
    with tempfile.TemporaryDirectory(prefix="chaosgate-worker-") as workdir:
        command = worker_command(locustfile, host, port, processes=processes)
        return subprocess.run(command, cwd=workdir, check=False).returncode


def serve_worker(command: Sequence[str], *, pause_s: float = SERVE_PAUSE_S) -> int:
    """``chaosgate worker --serve``: one Locust worker (``command``) after another, each in a
    fresh working directory, until SIGTERM or SIGINT; then the current one is stopped and 0
    returned.

    A plain worker ends with its master's run (or after Locust's 5 minutes of failing to reach
    one), which in a Deployment means a restart with the kubelet's growing back-off: the next
    run's master, waiting only ``EXPECT_WORKERS_MAX_WAIT_S``, would find its workers in
    CrashLoopBackOff. Served, a worker is always there to connect within Locust's 5 s retry.
    A worker that ends sooner than ``pause_s`` after its start waits out the rest, so a broken
    command cannot spin. Signal handlers are the process's: call it from the main thread.
    """
    stopping = threading.Event()
    running: list[subprocess.Popen[bytes]] = []

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        for child in running:
            if child.poll() is None:
                child.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping.is_set():
            started = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="chaosgate-worker-") as workdir:
                child = subprocess.Popen(list(command), cwd=workdir)
                running[:] = [child]
                if stopping.is_set():  # a signal between the start and the line above
                    child.terminate()
                code = child.wait()
            if stopping.is_set():
                break
            print(
                f"chaosgate worker: the Locust worker ended (exit {code}); starting the next",
                file=sys.stderr,
                flush=True,
            )
            stopping.wait(max(0.0, pause_s - (time.monotonic() - started)))
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@dataclass(frozen=True)
class WorkerAccount:
    """The master's account of its workers' ledger entries (``ledger/workers.json``)."""

    workers: int = 0  # workers that sent entries or stats
    received: int = 0  # entries that reached the master's ledger
    lost_workers: tuple[str, ...] = ()  # gone before their final batch
    missing_entries: int = 0  # entries known to exist (counted by a worker or by Locust) and lost
    path: Path | None = None


def read_worker_account(ledger_dir: Path) -> WorkerAccount:
    """The account a master wrote; an empty one when the load had no workers. A file that
    cannot be read counts as a loss of unknown size (every worker lost), never as none."""
    path = ledger_dir / ACCOUNT_FILE
    if not path.exists():
        return WorkerAccount()
    try:
        document: dict[str, Any] = json.loads(path.read_text())
        workers = document["workers"]
        return WorkerAccount(
            workers=len(workers),
            received=int(document["received"]),
            lost_workers=tuple(str(worker) for worker in document["lost_workers"]),
            missing_entries=int(document["missing_entries"]),
            path=path,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return WorkerAccount(lost_workers=(f"unreadable {path}: {exc}",), path=path)


def workers_check(account: WorkerAccount) -> CheckResult | None:
    """``load.workers``: every worker said goodbye and every entry it had reached the master's
    ledger. An error, never a pass, when one was lost: the run did not observe all its
    requests (the checks over the ledger judge fewer than were sent). None without workers."""
    if not (account.workers or account.lost_workers):
        return None
    expected = {"lost_workers": 0, "missing_entries": 0}
    observed = {
        "workers": account.workers,
        "received": account.received,
        "lost_workers": len(account.lost_workers),
        "missing_entries": account.missing_entries,
    }
    evidence = {"lost_workers": list(account.lost_workers), "account": str(account.path or "")}
    if not (account.lost_workers or account.missing_entries):
        return CheckResult("load.workers", Status.PASSED, expected, observed, evidence=evidence)
    lost = ", ".join(account.lost_workers) or "none"
    reason = (
        f"{len(account.lost_workers)} of {account.workers} Locust workers lost before their"
        f" final batch ({lost}); {account.missing_entries} ledger entries missing"
        f" (see {account.path})"
    )
    return CheckResult(
        "load.workers", Status.ERROR, expected, observed, reason=reason, evidence=evidence
    )
