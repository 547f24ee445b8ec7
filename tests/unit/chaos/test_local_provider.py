"""The local provider without the stack: a stack record in a temporary state dir, HTTP faked
at the transport (httpx.MockTransport), and stress-ng run for real (briefly, lightly)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos import local_actions, local_probes
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import resolve_ports
from refstack.launcher.record import StackRecord
from tests.support.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[3]
PORTS = resolve_ports({"CHAOSGATE_PORT_OFFSET": "30000"})
GATEWAY = f"http://127.0.0.1:{PORTS['gateway']}"


@pytest.fixture()
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackLayout:
    """A state dir whose record says a stack runs (its "supervisord" is this process)."""
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(tmp_path / "state"))
    layout = StackLayout.from_env(os.environ)
    layout.run_dir.mkdir(parents=True)
    StackRecord(PORTS, os.getpid(), time.time(), []).save(layout.record_file)
    return layout


Handler = Callable[[httpx.Request], httpx.Response]


def _client(handler: Handler) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))


def test_no_running_stack_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(tmp_path / "nothing"))
    with pytest.raises(ActivityFailed, match=r"no local stack is running from .*nothing.*stack up"):
        local_actions.set_faults("gateway", error_ratio=0.5)
    with pytest.raises(ActivityFailed, match="no local stack"):
        local_probes.program_running("rsyslog")


@pytest.mark.usefixtures("layout")
def test_set_faults_puts_only_the_given_settings() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"error_ratio": 0.5, "latency_ms": 0})

    with _client(handler) as client:
        result = local_actions.set_faults(
            "gateway", error_ratio=0.5, route_prefix="/api", client=client
        )
    assert result == {"error_ratio": 0.5, "latency_ms": 0}
    [request] = seen
    assert request.method == "PUT"
    assert str(request.url) == f"{GATEWAY}/admin/faults"
    assert json.loads(request.content) == {"error_ratio": 0.5, "route_prefix": "/api"}


@pytest.mark.usefixtures("layout")
def test_clear_faults_deletes() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        return httpx.Response(200, json={"error_ratio": 0.0})

    with _client(handler) as client:
        assert local_actions.clear_faults("users", client=client) == {"error_ratio": 0.0}
    assert seen == [f"DELETE http://127.0.0.1:{PORTS['users']}/admin/faults"]


@pytest.mark.usefixtures("layout")
@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (
            httpx.Response(400, json={"error": "'error_ratio' must be a number from 0.0 to 1.0"}),
            "HTTP 400: 'error_ratio' must be a number from 0.0 to 1.0",
        ),
        (httpx.Response(404, text="not found"), "CHAOSGATE_ADMIN_FAULTS=1"),
        (httpx.Response(200, text="ok"), "non-JSON"),
    ],
)
def test_set_faults_reports_what_the_service_answered(
    response: httpx.Response, fragment: str
) -> None:
    with _client(lambda _r: response) as client, pytest.raises(ActivityFailed) as info:
        local_actions.set_faults("gateway", error_ratio=2.0, client=client)
    assert fragment in str(info.value)
    assert f"{GATEWAY}/admin/faults" in str(info.value)


@pytest.mark.usefixtures("layout")
def test_set_faults_transport_error_names_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with _client(refuse) as client, pytest.raises(ActivityFailed) as info:
        local_actions.set_faults("gateway", latency_ms=1500, client=client)
    assert f"PUT {GATEWAY}/admin/faults failed (ConnectError" in str(info.value)
    assert "chaosgate stack status" in str(info.value)


@pytest.mark.usefixtures("layout")
def test_set_faults_needs_a_fault_and_a_known_service() -> None:
    with pytest.raises(ActivityFailed, match="got no fault; give at least one of error_ratio"):
        local_actions.set_faults("gateway")
    with pytest.raises(ActivityFailed, match="unknown service 'payments'; use one of gateway"):
        local_actions.set_faults("payments", error_ratio=0.1)


@pytest.mark.usefixtures("layout")
def test_service_healthy() -> None:
    with _client(lambda _r: httpx.Response(200, text="ok")) as client:
        assert local_probes.service_healthy("gateway", client=client) is True
    with _client(lambda _r: httpx.Response(503)) as client:
        assert local_probes.service_healthy("gateway", client=client) is False

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with _client(refuse) as client:
        assert local_probes.service_healthy("gateway", client=client) is False


@pytest.mark.usefixtures("layout")
def test_service_healthy_waits_up_to_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_probes, "_POLL_S", 0.05)  # its pace (0.5 s) is not what is tested
    answers = iter([503, 503, 200])
    urls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(next(answers))

    with _client(handler) as client:
        assert local_probes.service_healthy("gateway", timeout_s=5, client=client) is True
    assert urls == [f"{GATEWAY}/healthz"] * 3

    with _client(lambda _r: httpx.Response(503)) as client:
        started = time.monotonic()
        assert local_probes.service_healthy("gateway", timeout_s=0.3, client=client) is False
        assert time.monotonic() - started < 1.3


@pytest.mark.usefixtures("layout")
def test_get_faults() -> None:
    with _client(lambda _r: httpx.Response(200, json={"latency_ms": 0})) as client:
        assert local_probes.get_faults("iot", client=client) == {"latency_ms": 0}


def test_supervisord_not_answering_is_a_clear_error(layout: StackLayout) -> None:
    # the record says a stack runs, but there is no supervisord socket
    with pytest.raises(ActivityFailed, match=r"supervisord does not answer on .*supervisor\.sock"):
        local_probes.program_running("rsyslog")
    with pytest.raises(ActivityFailed, match="supervisord does not answer"):
        local_actions.stop_program("rsyslog")


def test_kill_service_refuses_an_unknown_signal() -> None:
    with pytest.raises(ActivityFailed, match="unknown signal 'SIGNOPE'; give a signal name"):
        local_actions.kill_service("users", signal="SIGNOPE")


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"duration_s": 0}, "duration_s 0 is out of range"),
        ({"duration_s": 10_000}, "duration_s 10000 is out of range"),
        ({"duration_s": "45"}, "duration_s must be a number"),
        ({"duration_s": 5, "workers": -1}, "workers must be a whole number >= 0"),
        ({"duration_s": 5, "load_percent": 0}, "load_percent 0 is out of range"),
        ({"duration_s": 5, "load_percent": 50.5}, "load_percent must be a whole number"),
        ({"duration_s": 5, "nice": 40}, "nice must be a whole number 0-19"),
    ],
)
def test_stress_cpu_refuses_bad_arguments(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ActivityFailed, match=fragment):
        local_actions.stress_cpu(**kwargs)  # type: ignore[arg-type]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture()
def no_stress_left(layout: StackLayout) -> Iterator[StackLayout]:
    yield layout
    local_actions.stop_stress()


@pytest.mark.tools
def test_stress_runs_bounded_and_the_rollback_stops_it_by_pid(no_stress_left: StackLayout) -> None:
    started = local_actions.stress_cpu(duration_s=30, workers=1, load_percent=5)
    pid = started["pid"]
    assert started["duration_s"] == 30
    assert "--timeout" in started["command"] and "30s" in started["command"]
    process = psutil.Process(pid)
    wait_until(  # until `nice` has exec'd stress-ng
        lambda: process.name() == "stress-ng",
        timeout_s=5,
        message=lambda: f"stress-ng in place of {process.name()}",
    )
    assert process.nice() == 19
    record = json.loads((no_stress_left.run_dir / "chaos-stress.json").read_text())
    assert [entry["pid"] for entry in record] == [pid]

    result = local_actions.stop_stress()
    assert result == {"stopped": [pid], "already_ended": []}
    assert _gone(pid)
    assert not (no_stress_left.run_dir / "chaos-stress.json").exists()
    assert local_actions.stop_stress() == {"stopped": [], "already_ended": []}


@pytest.mark.tools
def test_stress_ends_by_itself(no_stress_left: StackLayout) -> None:
    pid = local_actions.stress_cpu(duration_s=1, workers=1, load_percent=5)["pid"]
    wait_until(lambda: _gone(pid), timeout_s=15, interval_s=0.2, message=f"stress-ng {pid} gone")
    assert local_actions.stop_stress() == {"stopped": [], "already_ended": [pid]}


@pytest.mark.tools
def test_stop_stress_in_another_process_uses_the_recorded_pid(
    no_stress_left: StackLayout,
) -> None:
    # another process (think `chaos run`) started the stress; this one stops it by the PID
    # recorded in the state dir. The other process stays up until then, so that it reaps its
    # child (PID 1 here does not reap orphans).
    code = (
        "import json, sys; from chaosgate.chaos.local_actions import stress_cpu; "
        "print(json.dumps(stress_cpu(duration_s=30, workers=1, load_percent=5)), flush=True); "
        "sys.stdin.read()"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ.copy(),
    )
    try:
        assert other.stdout is not None
        pid = json.loads(other.stdout.readline())["pid"]
        assert not _gone(pid)
        assert local_actions.stop_stress() == {"stopped": [pid], "already_ended": []}
        assert _gone(pid)
    finally:
        assert other.stdin is not None
        other.stdin.close()
        other.wait(timeout=30)
    assert not psutil.pid_exists(pid)


@pytest.mark.usefixtures("layout")
def test_set_faults_sends_the_connection_and_method_switches() -> None:
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"db_hold_connections": 5})

    with _client(handler) as client:
        local_actions.set_faults("orders", db_hold_connections=5, client=client)
        local_actions.set_faults(
            "orders", error_ratio=0.25, route_prefix="/api/orders", methods=["POST"], client=client
        )
        local_actions.set_faults("users", drop_connection_ratio=0.5, client=client)
    assert bodies == [
        {"db_hold_connections": 5},
        {"error_ratio": 0.25, "route_prefix": "/api/orders", "methods": ["POST"]},
        {"drop_connection_ratio": 0.5},
    ]
