"""Locust in its own process: headless, its CSV stats and ledger written under the run's folder.

gevent's monkey-patching stays in that process; the runner (threads, chaoslib, httpx) never
imports locust.

With ``web`` (``chaosgate replay --web``) Locust keeps its web UI instead, bound to
127.0.0.1 on a free port (:attr:`LoadProcess.web_url`): ``--autostart`` starts the load as
``--headless`` would, with the same users, spawn rate and run time, and ``--autoquit``
ends the process :data:`WEB_AUTOQUIT_S` seconds after the run time, so the run goes on as a
headless one does; the CSV and JSON stats and the ledger are written the same way. Someone
watching the page can stop the users or change their number; the process still ends at the
run time (Locust's own timer), so the run's checks are never kept waiting.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import scenarios
from chaosgate.run.load_workers import (
    LOCAL_MASTER_HOST,
    WorkerAccount,
    master_options,
    parse_master_address,
    read_worker_account,
    worker_command,
)
from chaosgate.run.profiles import Profile, ProfileError

__all__ = [
    "WEB_AUTOQUIT_S",
    "WEB_HOST",
    "LoadProcess",
    "LoadResult",
    "free_local_port",
    "locust_command",
    "start_load",
]

# the locustfile inside the scenarios package, so an installed wheel has it; the checkout's
# top-level locustfile.py re-exports it for plain `locust -f locustfile.py`
LOCUSTFILE = Path(scenarios.__file__).resolve().parent / "locustfile.py"
WEB_HOST = "127.0.0.1"  # the web UI is for the engineer at this machine, never the network
WEB_AUTOQUIT_S = 10  # the page stays up this long after the run time, to read the final stats


WORKERS_EXIT_S = 30  # after the master, its local workers have this long to end


@dataclass(frozen=True)
class LoadResult:
    exit_code: int
    stats_csv: Path
    log: Path
    # a distributed load's account of its workers' ledger entries (ledger/workers.json):
    # lost workers and missing entries are what the load check must report
    workers: WorkerAccount = field(default_factory=WorkerAccount)

    @property
    def lost_workers(self) -> tuple[str, ...]:
        return self.workers.lost_workers

    @property
    def missing_entries(self) -> int:
        return self.workers.missing_entries


def locust_command(
    profile: Profile,
    host: str,
    csv_prefix: Path,
    *,
    web_port: int | None = None,
    master_port: int | None = None,
) -> list[str]:
    """Locust's command line: headless, or (``web_port``) with its web UI on that port; the
    master of the profile's workers when it has any (listening on ``master_port`` when the
    profile names no address of its own)."""
    mode = (
        ["--headless"]
        if web_port is None
        else ["--autostart", "--autoquit", str(WEB_AUTOQUIT_S),
              "--web-host", WEB_HOST, "--web-port", str(web_port)]
    )  # fmt: skip
    command = [
        sys.executable, "-m", "locust",
        "-f", str(LOCUSTFILE),
        *mode,
        "--host", host,
        "--users", str(profile.users),
        "--spawn-rate", str(profile.spawn_rate),
        "--run-time", f"{profile.duration_s}s",
        "--stop-timeout", "5",
        "--csv", str(csv_prefix),
        "--json-file", str(csv_prefix),  # exact totals (the CSV misses the last second)
        "--exit-code-on-error", "0",  # chaosgate judges failures, not Locust
        "--only-summary",
        *profile.scenarios,
    ]  # fmt: skip
    if profile.workers or profile.expect_workers:
        command += master_options(profile, master_port or 0)
    elif profile.processes > 1:
        command += ["--processes", str(profile.processes)]
    return command


def load_env(
    profile: Profile, ledger_dir: Path, base: dict[str, str], *, run_id: str
) -> dict[str, str]:
    env = dict(base)
    env.update(
        {
            "CHAOSGATE_LEDGER_DIR": str(ledger_dir),
            # request ids differ per run even with the same seed (trace ids stay reproducible)
            "CHAOSGATE_RUN_ID": run_id,
            "CHAOSGATE_SEED": str(profile.seed),
            "CHAOSGATE_IOT_DEVICES": str(profile.iot_devices),
            "CHAOSGATE_WEIGHTS": ",".join(f"{k}={v}" for k, v in profile.weights.items()),
        }
    )
    if profile.shape:
        # Locust ignores -u/-r/-t when a shape drives the load: the shape reads these instead
        env["CHAOSGATE_SHAPE"] = profile.shape
        env["CHAOSGATE_USERS"] = str(profile.users)
        env["CHAOSGATE_SPAWN_RATE"] = str(profile.spawn_rate)
        env["CHAOSGATE_DURATION_S"] = str(profile.duration_s)
    else:
        env.pop("CHAOSGATE_SHAPE", None)
    return env


class LoadProcess:
    """A running Locust; ``wait`` returns its result, ``stop`` ends it early."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        csv_prefix: Path,
        log: Path,
        *,
        web_url: str | None = None,
        workers: tuple[subprocess.Popen[bytes], ...] = (),
        ledger_dir: Path | None = None,
    ) -> None:
        self._proc = proc
        self._csv_prefix = csv_prefix
        self._log = log
        self.web_url = web_url  # Locust's web UI, when it runs with one
        self.workers = workers  # the local workers of a distributed load (the master quits them)
        self._ledger_dir = ledger_dir

    def _result(self, code: int) -> LoadResult:
        account = (
            WorkerAccount() if self._ledger_dir is None else read_worker_account(self._ledger_dir)
        )
        return LoadResult(code, Path(f"{self._csv_prefix}_stats.csv"), self._log, account)

    def _end_workers(self, grace_s: float) -> None:
        """Wait for the local workers (their master told them to quit); SIGKILL, by PID, any
        still there after ``grace_s``."""
        for worker in self.workers:
            try:
                worker.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    worker.kill()
                worker.wait(timeout=5)

    @property
    def pid(self) -> int:
        return self._proc.pid

    def running(self) -> bool:
        return self._proc.poll() is None

    def wait(self, timeout_s: float) -> LoadResult:
        try:
            code = self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop()
            code = self._proc.wait(timeout=30)
        self._end_workers(WORKERS_EXIT_S)
        return self._result(code)

    def stop(self) -> None:
        """Ask Locust to stop (it stops its users and writes its stats on SIGTERM); returns at
        once, so it is safe in a signal handler."""
        if self._proc.poll() is None:
            with suppress(ProcessLookupError):
                self._proc.terminate()

    def end(self, grace_s: float) -> LoadResult:
        """Stop now: SIGTERM, then after ``grace_s`` SIGKILL to Locust's whole process group
        (its ``--processes`` workers too)."""
        self.stop()
        try:
            code = self._proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            code = self._proc.wait(timeout=5)
        with suppress(ProcessLookupError):  # workers that outlived their master
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._end_workers(grace_s)
        return self._result(code)


def free_local_port() -> int:
    """A TCP port nothing listens on at :data:`WEB_HOST` now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((WEB_HOST, 0))
        return int(probe.getsockname()[1])


def start_load(
    profile: Profile, host: str, run_dir: Path, *, run_id: str, web: bool = False
) -> LoadProcess:
    """Start Locust for ``profile`` against ``host``; ``web``: with its web UI on a free
    local port, chosen just before Locust starts (the shortest window for another program
    to take it)."""
    web_port = free_local_port() if web else None
    master_port = free_local_port() if profile.workers and not profile.master_bind else None
    locust_dir = run_dir / "locust"
    locust_dir.mkdir(parents=True, exist_ok=True)
    csv_prefix = locust_dir / "locust"
    log = locust_dir / "locust.log"
    env = load_env(profile, run_dir / "ledger", dict(os.environ), run_id=run_id)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            locust_command(profile, host, csv_prefix, web_port=web_port, master_port=master_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            # the run's folder, not the caller's: Locust reads a locust.conf or pyproject.toml
            # it finds in its working directory, and a run takes its settings from the profile
            cwd=run_dir,
            # its own process group: a Ctrl-C in the terminal reaches the runner only (which
            # stops Locust itself), and the group ends together
            start_new_session=True,
        )
    web_url = None if web_port is None else f"http://{WEB_HOST}:{web_port}"
    workers = start_local_workers(profile, run_dir, env, master_port)
    return LoadProcess(
        proc, csv_prefix, log, web_url=web_url, workers=workers, ledger_dir=run_dir / "ledger"
    )


def start_local_workers(
    profile: Profile, run_dir: Path, env: dict[str, str], master_port: int | None
) -> tuple[subprocess.Popen[bytes], ...]:
    """The profile's local workers, each in ``RUN_DIR/workers/<n>/`` (its working directory
    and its log), connecting to the master on this machine. They carry the run's settings
    (seed, run id, devices) and watch the runner as the master does; they write no ledger."""
    if not profile.workers:
        return ()
    if profile.master_bind:
        host, port = parse_master_address(profile.master_bind, "--master-bind")
        connect = (LOCAL_MASTER_HOST if host in ("0.0.0.0", "*", "::") else host, port)
    else:
        assert master_port is not None
        connect = (LOCAL_MASTER_HOST, master_port)
    worker_env = {k: v for k, v in env.items() if k != "CHAOSGATE_LEDGER_DIR"}
    workers: list[subprocess.Popen[bytes]] = []
    for number in range(profile.workers):
        workdir = run_dir / "workers" / str(number)
        workdir.mkdir(parents=True, exist_ok=True)
        with (workdir / "locust.log").open("wb") as out:
            workers.append(
                subprocess.Popen(
                    worker_command(LOCUSTFILE, *connect),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=worker_env,
                    cwd=workdir,
                    start_new_session=True,  # a Ctrl-C reaches the runner only, as for the master
                )
            )
    return tuple(workers)


def list_user_classes(timeout_s: float = 60.0) -> list[str]:
    """The user classes ``locustfile.py`` exports, as Locust's own ``--list`` reports them."""
    proc = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--list"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=LOCUSTFILE.parent,
        check=False,
    )
    if proc.returncode != 0:
        raise ProfileError(
            f"locustfile {LOCUSTFILE} does not load: {proc.stderr.strip().splitlines()[-1:]}"
        )
    lines = [line.strip() for line in proc.stdout.splitlines()]
    return [line for line in lines if line and not line.endswith(":")]
