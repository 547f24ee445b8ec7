"""One container's life with real processes and a hand-driven clock for the delays."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from refstack.node.containers import ContainerRunner, Launch, RunnerContext
from refstack.node.podenv import ContainerEnvError
from refstack.node.podstatus import Running, Terminated, Waiting
from tests.support.clocks import FakeClock
from tests.support.waiting import wait_until


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its reaper (an orphan's is PID 1)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


class Harness:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.clock = FakeClock()
        self.runners: list[ContainerRunner] = []

    def runner(
        self,
        script: str | list[str],
        *,
        policy: str = "Always",
        delay: float = 0.0,
        spec: dict[str, Any] | None = None,
        prepare: Callable[[], Launch] | None = None,
        image_error: str | None = None,
        probes: bool = False,
    ) -> ContainerRunner:
        argv = ["sh", "-c", script] if isinstance(script, str) else script
        env = {"PATH": "/usr/bin:/bin", "GREETING": "hello"}
        context = RunnerContext(
            pod_label="ns/pod",
            pod_uid="uid-1",
            pod_ip="127.0.0.1",
            restart_policy=policy,
            log_path=self.tmp / "logs" / "ns_pod_app.log",
            record_path=self.tmp / "pods" / "uid-1" / "app.pid",
            kill_grace_s=0.5,
            start_delay_s=delay,
            probe_http=httpx.Client() if probes else None,
        )
        runner = ContainerRunner(
            {"name": "app", "image": "chaosgate/test:1", **(spec or {})},
            image_id="chaosgate/test@sha256:00",
            image_error=image_error,
            prepare=prepare or (lambda: Launch(argv, env, str(self.tmp))),
            context=context,
            clock=self.clock,
        )
        self.runners.append(runner)
        return runner

    def until(
        self, runner: ContainerRunner, check: Callable[[], bool], timeout_s: float = 10
    ) -> None:
        """Step ``runner`` until ``check`` holds (its processes run in real time)."""

        def stepped() -> bool:
            runner.step()
            return check()

        wait_until(
            stepped,
            timeout_s=timeout_s,
            interval_s=0.02,
            message=lambda: f"the check on the container, now {runner.view()}",
        )


@pytest.fixture()
def harness(tmp_path: Path) -> Any:
    h = Harness(tmp_path)
    yield h
    for runner in h.runners:
        runner.kill()


def test_start_delay_keeps_it_creating_then_it_runs_and_logs(harness: Harness) -> None:
    runner = harness.runner('echo "$GREETING from $PWD"; exec sleep 30', delay=5)
    runner.step()
    assert runner.view().state == Waiting("ContainerCreating")
    harness.clock.advance(4.9)
    runner.step()
    assert not runner.alive
    harness.clock.advance(0.1)
    runner.step()
    view = runner.view()
    assert isinstance(view.state, Running)
    assert runner.pid is not None and _alive(runner.pid)
    assert view.container_id == f"process://{runner.pid}"
    assert view.ready and view.started  # no probes: ready once running
    assert os.getpgid(runner.pid) == runner.pid  # its own process group
    log = harness.tmp / "logs" / "ns_pod_app.log"
    harness.until(runner, lambda: log.exists() and "hello from" in log.read_text())
    assert f"hello from {harness.tmp}" in log.read_text()
    record = harness.tmp / "pods" / "uid-1" / "app.pid"
    assert f'"pid": {runner.pid}' in record.read_text()


def test_crash_restarts_at_once_then_backs_off(harness: Harness) -> None:
    runner = harness.runner("echo run >> runs; exit 3")
    harness.until(runner, lambda: runner.restart_count == 1)
    harness.until(runner, lambda: isinstance(runner.view().state, Waiting))
    view = runner.view()
    assert view.state == Waiting(
        "CrashLoopBackOff", "back-off 10s restarting failed container=app pod=ns_pod(uid-1)"
    )
    assert isinstance(view.last_state, Terminated)
    assert (view.last_state.exit_code, view.last_state.reason) == (3, "Error")
    assert view.restart_count == 1
    assert not (harness.tmp / "pods" / "uid-1" / "app.pid").exists()
    harness.clock.advance(9.9)
    runner.step()
    assert runner.view().restart_count == 1
    harness.clock.advance(0.1)
    runner.step()
    assert runner.restart_count == 2
    harness.until(runner, lambda: "20s" in getattr(runner.view().state, "message", ""))
    assert (harness.tmp / "runs").read_text().count("run") == 3


def test_sigkill_from_outside_counts_as_a_restart(harness: Harness) -> None:
    runner = harness.runner("exec sleep 30")
    runner.step()
    first = runner.pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    harness.until(runner, lambda: runner.restart_count == 1 and runner.pid is not None)
    view = runner.view()
    assert runner.pid != first and isinstance(view.state, Running)
    assert isinstance(view.last_state, Terminated)
    assert (view.last_state.exit_code, view.last_state.signal) == (137, 9)


@pytest.mark.parametrize(
    ("policy", "code", "reason"),
    [("OnFailure", 0, "Completed"), ("Never", 1, "Error"), ("Never", 0, "Completed")],
)
def test_no_restart_leaves_it_terminated(
    harness: Harness, policy: str, code: int, reason: str
) -> None:
    runner = harness.runner(f"exit {code}", policy=policy)
    harness.until(
        runner,
        lambda: (
            not runner.alive
            and runner.restart_count == 0
            and isinstance(runner.view().state, Terminated)
        ),
    )
    state = runner.view().state
    assert isinstance(state, Terminated)
    assert (state.exit_code, state.reason) == (code, reason)
    harness.clock.advance(3600)
    runner.step()
    assert runner.restart_count == 0


def test_terminate_sends_sigterm_then_sigkill_after_the_grace_period(harness: Harness) -> None:
    runner = harness.runner("trap '' TERM; sleep 30 & echo $! > child; wait")
    runner.step()
    harness.until(
        runner,
        lambda: (
            (harness.tmp / "child").exists() and (harness.tmp / "child").read_text().strip() != ""
        ),
    )
    child = int((harness.tmp / "child").read_text())
    runner.terminate(3)
    time.sleep(0.3)
    runner.step()
    assert runner.alive  # TERM is ignored by the shell
    harness.clock.advance(3)
    harness.until(runner, lambda: not runner.alive)
    state = runner.view().state
    assert isinstance(state, Terminated) and state.signal == 9
    assert not _alive(child)  # the whole group went
    harness.clock.advance(100)
    runner.step()
    assert not runner.alive and runner.restart_count == 0  # terminated for good


def test_kill_stops_at_once(harness: Harness) -> None:
    runner = harness.runner("trap '' TERM; exec sleep 30")
    runner.step()
    pid = runner.pid
    assert pid is not None
    runner.kill()
    assert not runner.alive and not _alive(pid)


def test_a_config_error_waits_and_retries(harness: Harness) -> None:
    calls: list[int] = []

    def prepare() -> Launch:
        calls.append(1)
        if len(calls) == 1:
            raise ContainerEnvError('configmap "settings" not found')
        return Launch(["sleep", "30"], {"PATH": "/usr/bin:/bin"}, str(harness.tmp))

    runner = harness.runner("unused", prepare=prepare)
    runner.step()
    assert runner.view().state == Waiting(
        "CreateContainerConfigError", 'configmap "settings" not found'
    )
    runner.step()
    assert len(calls) == 1
    harness.clock.advance(5)
    runner.step()
    assert runner.alive and runner.restart_count == 0


def test_an_unknown_image_waits_with_err_image_pull(harness: Harness) -> None:
    runner = harness.runner("true", image_error="image 'x' is not in the node config")
    harness.clock.advance(100)
    runner.step()
    assert runner.view().state == Waiting("ErrImagePull", "image 'x' is not in the node config")


def test_a_command_that_cannot_start_is_a_start_error(harness: Harness) -> None:
    runner = harness.runner(["/nonexistent/program"])
    runner.step()
    view = runner.view()
    assert isinstance(view.state, Waiting) and view.state.reason == "CrashLoopBackOff"
    assert view.restart_count == 1
    assert isinstance(view.last_state, Terminated)
    assert view.last_state.reason == "StartError" and view.last_state.exit_code == 128
    assert "/nonexistent/program" in view.last_state.message


def test_readiness_follows_its_probe(harness: Harness) -> None:
    flag = harness.tmp / "ready"
    probe = {
        "exec": {"command": ["test", "-f", str(flag)]},
        "periodSeconds": 0.1,
        "failureThreshold": 1,
    }
    runner = harness.runner("exec sleep 30", spec={"readinessProbe": probe}, probes=True)
    runner.step()
    time.sleep(0.3)
    assert runner.alive and not runner.view().ready
    flag.touch()
    harness.until(runner, lambda: runner.view().ready)
    flag.unlink()
    harness.until(runner, lambda: not runner.view().ready)


def test_a_failing_liveness_probe_kills_and_restarts(harness: Harness) -> None:
    probe = {"exec": {"command": ["false"]}, "periodSeconds": 0.1, "failureThreshold": 2}
    runner = harness.runner("exec sleep 30", spec={"livenessProbe": probe}, probes=True)
    runner.step()
    first = runner.pid
    harness.until(runner, lambda: runner.restart_count == 1 and runner.pid not in (None, first))
    last = runner.view().last_state
    assert isinstance(last, Terminated) and last.signal == signal.SIGTERM


def test_a_startup_probe_holds_started_and_ready(harness: Harness) -> None:
    flag = harness.tmp / "started"
    spec = {
        "startupProbe": {
            "exec": {"command": ["test", "-f", str(flag)]},
            "periodSeconds": 0.1,
            "failureThreshold": 1000,
        },
        "readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 0.1},
    }
    runner = harness.runner("exec sleep 30", spec=spec, probes=True)
    runner.step()
    time.sleep(0.3)
    view = runner.view()
    assert runner.alive and not view.started and not view.ready
    flag.touch()
    harness.until(runner, lambda: runner.view().started and runner.view().ready)
