"""Runs that are cancelled or killed leave nothing behind (the real stack, real signals).

One experiment injects a fault of every local kind at once (a fault switch on the gateway,
connections held in the users service's pool, a stopped rsyslog, stress-ng, a full loop
filesystem, silent registered devices) and then holds them. A run of it is

- SIGTERM'd or SIGINT'd during the fault: it exits 143 / 130 within 7 s, with verdict
  ``interrupted``, every fault undone (seen through the services' own endpoints, supervisord,
  the process table and the mount table) and no Locust left;
- SIGKILL'd during the fault: the faults stay (``stack status`` lists them, ``run`` refuses to
  start), Locust ends by itself, and ``chaosgate cleanup`` undoes every one.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from chaosgate.chaos.local_disk import mounted
from tests.integration.conftest import LocalStack
from tests.integration.support import chaosgate_env
from tests.integration.test_experiments import NO_FAULTS
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / "experiments" / "local"
# the last action before the hold: once the gateway fails, every fault is in place
KINDS = (
    "silence-iot-devices",
    "fill-disk",
    "saturate-cpu",
    "stop-log-shipper",
    "leak-users-db-connections",
    "gateway-error-ratio",
)


def _say(message: str) -> None:
    print(f"[figure] {message}", flush=True)


def _every_kind_experiment(path: Path) -> Path:
    method: list[dict[str, Any]] = []
    rollbacks: list[dict[str, Any]] = []
    for name in KINDS:
        doc = json.loads((LOCAL / f"{name}.json").read_text())
        for action in doc["method"]:
            method.append({k: v for k, v in action.items() if k != "pauses"})
        rollbacks += doc["rollbacks"]
    method[-1]["pauses"] = {"after": 120}  # hold every fault until the signal
    path.write_text(
        json.dumps(
            {
                "version": "1.0.0",
                "title": "every local fault kind at once",
                "description": "the interrupted-run tests: one fault of each kind, held",
                "method": method,
                "rollbacks": rollbacks,
                "extensions": [{"name": "chaosgate", "expected_alerts": []}],
            }
        )
    )
    return path


@pytest.fixture
def env(local_stack: LocalStack, tmp_path: Path) -> dict[str, str]:
    values = chaosgate_env(local_stack.ports, local_stack.layout.state_dir)
    values["CHAOSGATE_STATE_DIR"] = str(tmp_path / "state")  # this test's own fault ledger
    return values


@pytest.fixture
def experiment(tmp_path: Path) -> Path:
    return _every_kind_experiment(tmp_path / "every-kind.json")


def _start_run(env: dict[str, str], experiment: Path, reports: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chaosgate", "run", "--profile", "smoke", "--duration", "150",
         "--experiment", str(experiment), "--reports", str(reports)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait_for_the_faults(http: httpx.Client, stack: LocalStack, run: subprocess.Popen[str]) -> None:
    def injected() -> bool:
        if run.poll() is not None:
            raise AssertionError(f"the run ended early ({run.returncode})")
        faults = http.get(f"{stack.urls['gateway']}/admin/faults").json()
        return bool(faults.get("error_ratio") == 0.5)

    wait_until(injected, timeout_s=120, interval_s=0.5, message="the faults injected")
    time.sleep(2)  # into the hold


def _locusts(reports: Path) -> list[psutil.Process]:
    """Locust processes of this run (their command line names the run's folder)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "locust" in cmdline and str(reports) in cmdline:
            found.append(process)
    return found


def _stress_processes() -> list[psutil.Process]:
    """stress-ng processes still running. A zombie is not one: after a SIGKILLed runner its
    stress-ng belongs to whichever process adopted it (PID 1 in CI's container, which may never
    reap it), and a zombie holds no memory and takes no CPU."""
    return [
        p
        for p in psutil.process_iter(["name", "status"])
        if (p.info["name"] or "").startswith("stress-ng") and p.info["status"] != "zombie"
    ]


def _program_running(stack: LocalStack, env: dict[str, str], name: str) -> bool:
    code = (
        "import sys\nfrom chaosgate.chaos.local_probes import program_running\n"
        f"sys.exit(0 if program_running({name!r}) else 1)"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT).returncode == 0


def _nothing_left(
    http: httpx.Client, stack: LocalStack, env: dict[str, str], reports: Path
) -> None:
    for service in ("gateway", "users"):
        assert http.get(f"{stack.urls[service]}/admin/faults").json() == NO_FAULTS, service
    assert _stress_processes() == []
    assert _program_running(stack, env, "rsyslog")
    chaos_run = stack.layout.state_dir / "run" / "chaos"
    assert not any(mounted(chaos_run / f"disk-fill-{i}") for i in range(2))
    devices = http.get(f"{stack.urls['iot']}/api/iot/devices").json()["devices"]
    assert not [d for d in devices if str(d.get("id", "")).startswith("chaosgate-silent")
                and not d.get("decommissioned")], devices  # fmt: skip
    wait_until(lambda: not _locusts(reports), timeout_s=10, message="the run's Locust gone")


def _signal_and_wait(run: subprocess.Popen[str], signum: int) -> tuple[str, float]:
    """Send ``signum`` to the runner; its remaining output and the seconds until it exited."""
    sent = time.monotonic()
    run.send_signal(signum)
    output, _ = run.communicate(timeout=60)
    return output, time.monotonic() - sent


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10.0) as client:
        yield client


@pytest.mark.timeout(400)
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_the_faults_undoes_them_and_exits_within_7_s(
    local_stack: LocalStack, http: httpx.Client, env: dict[str, str], experiment: Path,
    tmp_path: Path, signum: int, code: int,
) -> None:  # fmt: skip
    reports = tmp_path / "reports"
    run = _start_run(env, experiment, reports)
    try:
        _wait_for_the_faults(http, local_stack, run)
        output, took = _signal_and_wait(run, signum)
    finally:
        if run.poll() is None:
            run.kill()
    _say(f"{signal.Signals(signum).name} to exit: {took:.2f} s (exit {run.returncode})")
    assert run.returncode == code, output[-3000:]
    assert took <= 7.0, output[-3000:]
    (summary_path,) = reports.glob("*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["verdict"] == "interrupted" and summary["exit_code"] == code
    interrupted = next(c for c in summary["checks"] if c["name"] == "run.interrupted")
    assert "every local fault kind at once" in interrupted["reason"], interrupted
    assert [(e["kind"], e["state"]) for e in summary["faults"]] == [
        ("load", "undone"),
        ("experiment", "undone"),
    ]
    assert (summary_path.parent / "junit.xml").is_file()
    _nothing_left(http, local_stack, env, reports)
    assert not list((tmp_path / "state").glob("faults/*/*.json"))  # the ledger is clean


def _refused_until_cleanup(cli: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    status = cli("stack", "status")
    assert status.returncode == 1 and "fault not undone: [local] experiment every-kind" in (
        status.stdout
    ), status.stdout
    refused = cli("run", "--dry-run", "--experiment", "gateway-error-ratio")
    assert refused.returncode == 2, refused.stderr
    assert len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "experiment every-kind" in refused.stderr and "chaosgate cleanup" in refused.stderr


@pytest.mark.timeout(400)
def test_sigkill_leaves_faults_that_cleanup_undoes(
    local_stack: LocalStack, http: httpx.Client, env: dict[str, str], experiment: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    reports = tmp_path / "reports"
    run = _start_run(env, experiment, reports)
    try:
        _wait_for_the_faults(http, local_stack, run)
        locusts = _locusts(reports)
        run.kill()
        run.communicate(timeout=30)
    finally:
        if run.poll() is None:
            run.kill()
    assert locusts, "no Locust was running"
    gone = psutil.wait_procs(locusts, timeout=10)[1]
    assert not gone, f"Locust outlived its SIGKILLed runner: {gone}"
    assert http.get(f"{local_stack.urls['gateway']}/admin/faults").json()["error_ratio"] == 0.5

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chaosgate", *args],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
        )  # fmt: skip

    try:
        _refused_until_cleanup(cli)
    finally:
        started = time.monotonic()
        cleaned = cli("cleanup")  # whatever failed above, the stack is whole again after it
    took = time.monotonic() - started
    _say(f"cleanup to a clean stack: {took:.2f} s")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    for rollback in ("clear-gateway-faults", "start-rsyslog", "stop-stress", "release-filesystems",
                     "decommission-silent-devices", "clear-users-faults"):  # fmt: skip
        assert f"rollback {rollback}: done" in cleaned.stdout, cleaned.stdout
    _nothing_left(http, local_stack, env, reports)
    again = cli("cleanup")
    assert again.returncode == 0 and "nothing to undo" in again.stdout, again.stdout
    assert cli("stack", "status").returncode == 0


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("phase", "signum", "code"),
    [
        ("> warm-up", signal.SIGINT, 130),
        ("> load:", signal.SIGTERM, 143),
        ("> checks:", signal.SIGTERM, 143),
    ],
    ids=["warm-up", "load", "checks"],
)
def test_a_signal_in_any_phase_ends_the_run_promptly_and_honestly(
    local_stack: LocalStack, env: dict[str, str], tmp_path: Path, phase: str, signum: int,
    code: int,
) -> None:  # fmt: skip
    """No fault in these runs (the load ends before the first one is due), so what is proven is
    the phase: the signal at the moment the run prints the phase's first line."""
    reports = tmp_path / "reports"
    run = subprocess.Popen(
        [sys.executable, "-m", "chaosgate", "run", "--profile", "smoke", "--duration", "15",
         "--reports", str(reports)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert run.stdout is not None
    seen: list[str] = []
    try:
        for line in run.stdout:
            seen.append(line)
            if phase in line:
                break
        assert any(phase in line for line in seen), "".join(seen)[-3000:]
        rest, took = _signal_and_wait(run, signum)
    finally:
        if run.poll() is None:
            run.kill()
    output = "".join(seen) + rest
    _say(f"{signal.Signals(signum).name} during {phase.strip('> :')} to exit: {took:.2f} s")
    assert run.returncode == code and took <= 7.0, output[-3000:]
    (summary_path,) = reports.glob("*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["verdict"] == "interrupted", summary["failed_checks"]
    interrupted = next(c for c in summary["checks"] if c["name"] == "run.interrupted")
    assert phase.strip("> :") in interrupted["reason"], interrupted["reason"]
    assert (summary_path.parent / "junit.xml").is_file()
    wait_until(lambda: not _locusts(reports), timeout_s=10, message="the run's Locust gone")
