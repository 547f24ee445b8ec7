"""Locust in its own process: headless, its CSV stats and ledger written under the run's folder.

gevent's monkey-patching stays in that process; the runner (threads, chaoslib, httpx) never
imports locust.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from chaosgate.run.profiles import Profile, ProfileError

__all__ = ["LoadProcess", "LoadResult", "locust_command", "start_load"]

LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfile.py"


@dataclass(frozen=True)
class LoadResult:
    exit_code: int
    stats_csv: Path
    log: Path


def locust_command(profile: Profile, host: str, csv_prefix: Path) -> list[str]:
    command = [
        sys.executable, "-m", "locust",
        "-f", str(LOCUSTFILE),
        "--headless",
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
    if profile.processes > 1:
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

    def __init__(self, proc: subprocess.Popen[bytes], csv_prefix: Path, log: Path) -> None:
        self._proc = proc
        self._csv_prefix = csv_prefix
        self._log = log

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
        return LoadResult(code, Path(f"{self._csv_prefix}_stats.csv"), self._log)

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
        return LoadResult(code, Path(f"{self._csv_prefix}_stats.csv"), self._log)


def start_load(profile: Profile, host: str, run_dir: Path, *, run_id: str) -> LoadProcess:
    locust_dir = run_dir / "locust"
    locust_dir.mkdir(parents=True, exist_ok=True)
    csv_prefix = locust_dir / "locust"
    log = locust_dir / "locust.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            locust_command(profile, host, csv_prefix),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=load_env(profile, run_dir / "ledger", dict(os.environ), run_id=run_id),
            cwd=LOCUSTFILE.parent,
            # its own process group: a Ctrl-C in the terminal reaches the runner only (which
            # stops Locust itself), and the group ends together
            start_new_session=True,
        )
    return LoadProcess(proc, csv_prefix, log)


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
