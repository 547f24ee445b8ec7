"""crash_repeatedly against a real supervisord running a tiny "service" the stack's way.

The program is supervised like the stack's services (refstack.launcher.supervisor's config):
``sh -c 'if <started before>; then sleep <delay>; fi; exec <server>'``, so after a kill
supervisord reports the new PID while the shell still sleeps, and only then the server answers
``/healthz``. The stack record points the action at that server; nothing else is touched.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos import local_actions, local_probes
from refstack.launcher.layout import StackLayout
from refstack.launcher.supervisor import (
    Program,
    SupervisorClient,
    render_supervisord_conf,
    supervisord_command,
)
from tests.support.waiting import wait_until
from tests.unit.chaos.local_support import fake_stack
from tests.unit.services.gunicorn_support import free_port

pytestmark = pytest.mark.processes  # real programs for seconds each


def _program(name: str, root: Path, port: int, delay_s: float) -> Program:
    site = root / f"{name}-site"
    site.mkdir()
    (site / "healthz").write_text("ok")
    marker = root / f"{name}.started"
    server = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    script = (
        f"if [ -e {shlex.quote(str(marker))} ]; then sleep {delay_s}; fi; "
        f"touch {shlex.quote(str(marker))}; cd {shlex.quote(str(site))}; exec {shlex.join(server)}"
    )
    return Program(name=name, command=["/bin/sh", "-c", script], stop_wait_s=2)


@pytest.fixture
def supervised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[StackLayout, SupervisorClient]]:
    users_port, iot_port = free_port(), free_port()
    layout = fake_stack(tmp_path, monkeypatch)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    programs = [
        _program("users", tmp_path, users_port, delay_s=1),
        _program("iot", tmp_path, iot_port, delay_s=4),
    ]
    conf = tmp_path / "supervisord.conf"
    conf.write_text(render_supervisord_conf(layout, programs))
    subprocess.run(supervisord_command(conf), check=True, timeout=30)
    wait_until(
        layout.supervisor_pidfile.exists,
        timeout_s=15,
        interval_s=0.1,
        message="supervisord's pidfile",
    )
    supervisord = int(layout.supervisor_pidfile.read_text())
    fake_stack(tmp_path, monkeypatch, supervisord_pid=supervisord, users=users_port, iot=iot_port)
    client = SupervisorClient(layout.supervisor_socket)
    try:
        for name in ("users", "iot"):
            client.start(name)
        yield layout, client
    finally:
        client.shutdown()  # stops its programs, then itself
        process = psutil.Process(supervisord)
        process.wait(timeout=30)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _healthy(name: str) -> bool:
    """It answers /healthz and supervisord reports it RUNNING (after its startsecs)."""
    wait_until(
        lambda: local_probes.program_running(name),
        timeout_s=15,
        interval_s=0.1,
        message=f"supervisord reporting {name} RUNNING",
    )
    return local_probes.service_healthy(name, timeout_s=15) and local_probes.program_running(name)


def test_each_kill_waits_for_a_new_process_that_serves(
    supervised: tuple[StackLayout, SupervisorClient],
) -> None:
    _layout, client = supervised
    assert _healthy("users")
    first_pid = int(client.process("users")["pid"])
    result = local_actions.crash_repeatedly("users", times=3, timeout_s=30, settle_s=0.2)
    kills = result["kills"]
    assert [kill["kill"] for kill in kills] == [1, 2, 3]
    pids = [kill["pid"] for kill in kills]
    assert pids[0] == first_pid
    assert len(set(pids)) == 3  # a new process each time
    # back = the server answers, after the restart's 1 s sleep, not merely a new shell's PID
    assert all(kill["back_after_s"] >= 1.0 for kill in kills[:2])
    assert kills[1]["at"] - kills[0]["at"] >= 1.2
    assert _healthy("users")  # supervisord brought it back after the last kill
    assert not [pid for pid in pids if _alive(pid)]
    assert int(client.process("users")["pid"]) not in pids


@pytest.mark.usefixtures("supervised")
def test_a_service_not_back_within_the_timeout_fails_the_action() -> None:
    assert _healthy("iot")
    with pytest.raises(
        ActivityFailed, match=r"'iot' was not answering its health check within 1 s"
    ):
        local_actions.crash_repeatedly("iot", times=2, timeout_s=1, settle_s=0)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"times": 0}, "times must be a whole number from 1 to 10, got 0"),
        ({"times": 11}, "from 1 to 10, got 11"),
        ({"times": "3"}, "times must be a whole number"),
        ({"timeout_s": 0}, "timeout_s must be a number of seconds >= 1, got 0"),
        ({"settle_s": -1}, "settle_s must be a number of seconds >= 0"),
        ({"signal": "SIGNOPE"}, "unknown signal 'SIGNOPE'"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ActivityFailed, match=fragment):
        local_actions.crash_repeatedly("users", **kwargs)  # type: ignore[arg-type]
