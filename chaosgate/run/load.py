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
from dataclasses import dataclass
from pathlib import Path

import scenarios
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


@dataclass(frozen=True)
class LoadResult:
    exit_code: int
    stats_csv: Path
    log: Path


def locust_command(
    profile: Profile, host: str, csv_prefix: Path, *, web_port: int | None = None
) -> list[str]:
    """Locust's command line: headless, or (``web_port``) with its web UI on that port."""
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

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        csv_prefix: Path,
        log: Path,
        *,
        web_url: str | None = None,
    ) -> None:
        self._proc = proc
        self._csv_prefix = csv_prefix
        self._log = log
        self.web_url = web_url  # Locust's web UI, when it runs with one

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
    locust_dir = run_dir / "locust"
    locust_dir.mkdir(parents=True, exist_ok=True)
    csv_prefix = locust_dir / "locust"
    log = locust_dir / "locust.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            locust_command(profile, host, csv_prefix, web_port=web_port),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=load_env(profile, run_dir / "ledger", dict(os.environ), run_id=run_id),
            # the run's folder, not the caller's: Locust reads a locust.conf or pyproject.toml
            # it finds in its working directory, and a run takes its settings from the profile
            cwd=run_dir,
            # its own process group: a Ctrl-C in the terminal reaches the runner only (which
            # stops Locust itself), and the group ends together
            start_new_session=True,
        )
    web_url = None if web_port is None else f"http://{WEB_HOST}:{web_port}"
    return LoadProcess(proc, csv_prefix, log, web_url=web_url)


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
