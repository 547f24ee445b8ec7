"""Probes: the threshold logic, and one probe of each kind against real local targets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from refstack.node.probes import (
    ProbeTarget,
    ProbeTiming,
    ProbeTracker,
    ProbeWorker,
    probe_timing,
    run_probe,
)
from tests.support.servers import silent_listener
from tests.support.waiting import wait_until


def test_timing_defaults_are_the_api_s() -> None:
    assert probe_timing({}) == ProbeTiming(0.0, 10.0, 1.0, 1, 3)
    assert probe_timing({"periodSeconds": 2, "failureThreshold": 1}).period_s == 2.0


def test_readiness_needs_success_threshold_successes_in_a_row() -> None:
    tracker = ProbeTracker(ProbeTiming(success_threshold=2, failure_threshold=2), initial=False)
    assert [tracker.record(ok) for ok in (True, False, True, True)] == [False, False, False, True]
    assert tracker.result is True
    assert [tracker.record(ok) for ok in (False, True, False, False)] == [False, False, False, True]
    assert tracker.result is False
    assert tracker.consecutive_failures == 2


def test_liveness_starts_alive_and_dies_after_failure_threshold() -> None:
    tracker = ProbeTracker(ProbeTiming(failure_threshold=3), initial=True)
    assert [tracker.record(False) for _ in range(3)] == [False, False, True]
    assert tracker.result is False


@pytest.fixture()
def listener() -> Iterator[int]:
    with silent_listener() as port:  # a TCP probe only connects
        yield port


def _target(tmp_path: Path, ports: dict[str, int] | None = None) -> ProbeTarget:
    return ProbeTarget(
        pod_ip="127.0.0.1", ports=ports or {}, env={"PATH": "/usr/bin:/bin"}, cwd=str(tmp_path)
    )


def _http(status: int, seen: list[httpx.Request]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    return httpx.Client(transport=httpx.MockTransport(handle))


@pytest.mark.parametrize(("status", "ok"), [(200, True), (302, True), (404, False), (503, False)])
def test_http_get_success_is_2xx_or_3xx(tmp_path: Path, status: int, ok: bool) -> None:
    seen: list[httpx.Request] = []
    probe = {
        "httpGet": {
            "path": "health",
            "port": "http",
            "httpHeaders": [{"name": "X-Probe", "value": "1"}],
        }
    }
    result, message = run_probe(probe, _target(tmp_path, {"http": 8081}), _http(status, seen))
    assert result is ok
    assert str(seen[0].url) == "http://127.0.0.1:8081/health"
    assert seen[0].headers["X-Probe"] == "1"
    assert seen[0].headers["Connection"] == "close"
    assert seen[0].headers["User-Agent"].startswith("kube-probe/")
    assert f"HTTP {status}" in message


def test_http_get_to_a_dead_port_fails(tmp_path: Path) -> None:
    with socket.socket() as holder:  # a port nobody listens on
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
    with httpx.Client() as http:
        ok, message = run_probe({"httpGet": {"port": port}}, _target(tmp_path), http)
    assert not ok
    assert "ConnectError" in message


@pytest.mark.parametrize("host", ["10.0.0.1", "example.com", "8.8.8.8"])
def test_probes_never_leave_loopback(tmp_path: Path, host: str) -> None:
    seen: list[httpx.Request] = []
    http = _http(200, seen)
    ok, message = run_probe({"httpGet": {"host": host, "port": 80}}, _target(tmp_path), http)
    assert not ok and "not a loopback address" in message
    ok, message = run_probe({"tcpSocket": {"host": host, "port": 80}}, _target(tmp_path), http)
    assert not ok and "not a loopback address" in message
    assert seen == []


def test_an_unknown_named_port_fails_with_its_name(tmp_path: Path) -> None:
    ok, message = run_probe({"tcpSocket": {"port": "metrics"}}, _target(tmp_path), httpx.Client())
    assert not ok
    assert "'metrics' is not a named port" in message


def test_tcp_socket(tmp_path: Path, listener: int) -> None:
    ok, _ = run_probe({"tcpSocket": {"port": listener}}, _target(tmp_path), httpx.Client())
    assert ok
    ok, _ = run_probe(
        {"tcpSocket": {"port": "web"}}, _target(tmp_path, {"web": listener}), httpx.Client()
    )
    assert ok


def test_exec_runs_in_the_container_s_dir_and_env(tmp_path: Path) -> None:
    (tmp_path / "ready").touch()
    target = _target(tmp_path)
    http = httpx.Client()
    assert run_probe({"exec": {"command": ["test", "-f", "ready"]}}, target, http)[0]
    ok, message = run_probe({"exec": {"command": ["sh", "-c", "exit 3"]}}, target, http)
    assert not ok and "exited 3" in message
    ok, message = run_probe({"exec": {"command": ["no-such-binary-here"]}}, target, http)
    assert not ok and "no-such-binary-here" in message


def test_exec_timeout_kills_the_probe(tmp_path: Path) -> None:
    start = time.monotonic()
    probe = {"exec": {"command": ["sleep", "30"]}, "timeoutSeconds": 0.2}
    ok, message = run_probe(probe, _target(tmp_path), httpx.Client())
    assert not ok and "timed out after 0.2s" in message
    assert time.monotonic() - start < 5


def test_grpc_is_reported_unsupported(tmp_path: Path) -> None:
    ok, message = run_probe({"grpc": {"port": 1}}, _target(tmp_path), httpx.Client())
    assert not ok and "not supported" in message


def test_a_worker_turns_ready_and_back(tmp_path: Path) -> None:
    flag = tmp_path / "ok"
    probe = {
        "exec": {"command": ["test", "-f", str(flag)]},
        "periodSeconds": 0.1,
        "failureThreshold": 1,
    }
    worker = ProbeWorker("readiness", probe, _target(tmp_path), httpx.Client(), label="t")
    worker.start()
    try:
        assert not worker.result
        flag.touch()
        wait_until(lambda: worker.result, timeout_s=5, message="the worker ready")
        flag.unlink()
        wait_until(lambda: not worker.result, timeout_s=5, message="the worker unready")
    finally:
        worker.stop()


def test_startup_gates_and_gives_up(tmp_path: Path) -> None:
    failing = {"exec": {"command": ["false"]}, "periodSeconds": 0.1, "failureThreshold": 2}
    startup = ProbeWorker("startup", failing, _target(tmp_path), httpx.Client(), label="t")
    gated_probe = {"exec": {"command": ["true"]}, "periodSeconds": 0.1}
    gated = ProbeWorker(
        "readiness",
        gated_probe,
        _target(tmp_path),
        httpx.Client(),
        label="t",
        gate=lambda: startup.result,
    )
    startup.start()
    gated.start()
    try:
        wait_until(lambda: startup.gave_up, timeout_s=5, message="the startup probe giving up")
        assert not gated.result  # never ran: the startup probe never succeeded
    finally:
        startup.stop()
        gated.stop()
