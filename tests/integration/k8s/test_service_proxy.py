"""The service proxy against a real API server, with this test playing the node agent.

This module starts its own etcd and kube-apiserver (tests/integration/k8s/bare_control_plane.py)
on ports 18379/18443 with Services from 10.201.0.0/16; no controller-manager or scheduler is
needed.
Each test runs ``python -m refstack.proxy`` as a subprocess, creates Services and Pods
through the API, serves HTTP itself on each pod's loopback IP (from 127.77.0.0/16) and patches
the pod's status (podIP, Ready) the way the node agent does. Nothing connects to a ClusterIP:
only to its loopback twin 127.b.c.d, to the NodePort on the node IP and to the pods.
"""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
import pytest
import yaml
from kubernetes import client

from refstack.node_config import service_loopback_ip
from tests.integration.k8s.bare_control_plane import bare_control_plane
from tests.support.servers import KeepAliveServer
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

REPO = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
# the ports the lead assigned to this module; override them when another cluster holds them
ETCD_PORT = int(os.environ.get("CHAOSGATE_PROXY_TEST_ETCD_PORT", "18379"))  # and + 1 for peers
API_PORT = int(os.environ.get("CHAOSGATE_PROXY_TEST_API_PORT", "18443"))
SERVICE_CIDR = "10.201.0.0/16"
POD_CIDR = "127.77.0.0/16"
NODE_IP = HOST
NAMESPACE = "proxy-test"
SERVICE_PORT = 8080
# what a poll may meet while the API server or the proxy is still coming up
TRANSIENT = (OSError, httpx.HTTPError, client.ApiException)


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 20.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port(host: str, start: int = 0, tries: int = 500) -> int | None:
    """A port free on ``host`` from ``start`` on (any free port when 0); None if none."""
    for port in range(start, start + tries) if start else [0]:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    return None


M = TypeVar("M")


def _model(kind: Callable[..., M], data: dict[str, Any]) -> M:
    """``data`` (the API's JSON) as a client model, e.g. ``_model(client.V1Pod, {...})``."""
    made = kind.from_dict(data)  # type: ignore[attr-defined]
    assert made is not None
    return cast(M, made)


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    core: client.CoreV1Api


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with bare_control_plane(
        tmp_path_factory.mktemp("proxy-control-plane"),
        api_port=API_PORT,
        etcd_port=ETCD_PORT,
        service_cidr=SERVICE_CIDR,
    ) as plane:
        api = plane.api()
        core = client.CoreV1Api(api)
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE)))
        # no controller-manager here: create the ServiceAccount pods are admitted with
        core.create_namespaced_service_account(
            NAMESPACE, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="default"))
        )
        yield Cluster(kubeconfig=plane.kubeconfig, core=core)
        api.close()  # type: ignore[no-untyped-call]


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    log: Path
    health_url: str

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture()
def proxy(cluster: Cluster, tmp_path: Path) -> Iterator[Proxy]:
    health_port = _free_port(NODE_IP)
    assert health_port is not None
    config = tmp_path / "node.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "kubeconfig": str(cluster.kubeconfig),
                "node_ip": NODE_IP,
                "pod_cidr": POD_CIDR,
                "service_cidr": SERVICE_CIDR,
                "apiserver_port": API_PORT,
                "state_dir": str(tmp_path / "state"),
                "container_log_dir": str(tmp_path / "pod-logs"),
                "proxy_health_port": health_port,
            }
        )
    )
    log = tmp_path / "proxy.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "refstack.proxy", "--config", str(config)],
            cwd=REPO,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = Proxy(process, log, f"http://{NODE_IP}:{health_port}/healthz")
    try:
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            wait_until(
                lambda: http.get(running.health_url).status_code == 200,
                timeout_s=30,
                ignoring=TRANSIENT,
                message="proxy /healthz 200",
            )
        yield running
    finally:
        _stop(process, timeout_s=10)
        print(f"--- proxy log ---\n{running.logged()}")


@dataclass
class FakePod:
    """A pod object in the API whose 'container' is an HTTP server this test runs (one that
    keeps connections open, so that cutting an open one is seen)."""

    name: str
    ip: str
    port: int
    server: KeepAliveServer


@pytest.fixture()
def pods(cluster: Cluster) -> Iterator[Callable[[str, str], FakePod]]:
    made: list[FakePod] = []

    def make(name: str, ip: str) -> FakePod:
        server = KeepAliveServer(ip, name.encode())
        port = server.port
        cluster.core.create_namespaced_pod(
            NAMESPACE,
            _model(
                client.V1Pod,
                {
                    "metadata": {"name": name, "labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "main",
                                "image": "chaosgate/restaurant:dev",
                                "ports": [{"name": "http", "containerPort": port}],
                            }
                        ]
                    },
                },
            ),
        )
        pod = FakePod(name, ip, port, server)
        made.append(pod)
        set_ready(cluster, pod, True)
        return pod

    yield make
    for pod in made:
        pod.server.close()
        try:
            cluster.core.delete_namespaced_pod(pod.name, NAMESPACE, grace_period_seconds=0)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def set_ready(cluster: Cluster, pod: FakePod, ready: bool) -> None:
    """Report the pod running on its IP, Ready or not, as the node agent would."""
    cluster.core.patch_namespaced_pod_status(
        pod.name,
        NAMESPACE,
        {
            "status": {
                "phase": "Running",
                "podIP": pod.ip,
                "podIPs": [{"ip": pod.ip}],
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            }
        },
    )


@dataclass(frozen=True)
class Svc:
    name: str
    host: str  # the ClusterIP's loopback twin
    node_port: int


@pytest.fixture()
def services(cluster: Cluster) -> Iterator[Callable[[str], Svc]]:
    made: list[str] = []

    def make(name: str) -> Svc:
        node_port = _free_port(NODE_IP, start=31000 + 37 * len(made))
        assert node_port is not None
        created = cluster.core.create_namespaced_service(
            NAMESPACE,
            _model(
                client.V1Service,
                {
                    "metadata": {"name": name},
                    "spec": {
                        "type": "NodePort",
                        "selector": {"app": "web"},
                        "ports": [
                            {
                                "name": "http",
                                "port": SERVICE_PORT,
                                "targetPort": "http",
                                "nodePort": node_port,
                            }
                        ],
                    },
                },
            ),
        )
        made.append(name)
        assert created.spec is not None and created.spec.cluster_ip is not None
        host = service_loopback_ip(created.spec.cluster_ip)
        assert host is not None and host.startswith("127.201.")
        return Svc(name, host, node_port)

    yield make
    for name in made:
        try:
            cluster.core.delete_namespaced_service(name, NAMESPACE)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def get(host: str, port: int) -> str:
    """GET / on a new connection: the answering pod's name, or how the connection failed."""
    try:
        connection = http.client.HTTPConnection(host, port, timeout=3)
        connection.request("GET", "/", headers={"Connection": "close"})
        return connection.getresponse().read().decode()
    except ConnectionResetError:
        return "reset"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except (http.client.RemoteDisconnected, http.client.BadStatusLine):
        return "closed"
    finally:
        connection.close()


def test_healthz_answers_ok_when_synced_and_404_elsewhere(proxy: Proxy) -> None:
    with httpx.Client(timeout=2.0, trust_env=False) as http:
        health = http.get(proxy.health_url)
        other = http.get(proxy.health_url.replace("/healthz", "/metrics"))
    assert (health.status_code, health.text) == (200, "ok\n")
    assert other.status_code == 404
    assert "pods in sync" in proxy.logged() and "services in sync" in proxy.logged()


def test_cluster_ip_and_node_port_reach_ready_pods_in_turn(
    proxy: Proxy,
    pods: Callable[[str, str], FakePod],
    services: Callable[[str], Svc],
) -> None:
    pods("web-a", "127.77.0.2")
    pods("web-b", "127.77.0.3")
    svc = services("web")
    wait_until(
        lambda: {get(svc.host, SERVICE_PORT) for _ in range(4)} == {"web-a", "web-b"},
        timeout_s=30,
        ignoring=TRANSIENT,
        message="both pods answering on the ClusterIP twin",
    )
    answers = [get(svc.host, SERVICE_PORT) for _ in range(6)]
    assert sorted(answers) == ["web-a"] * 3 + ["web-b"] * 3
    assert all(a != b for a, b in itertools.pairwise(answers))  # strictly in turn
    assert {get(NODE_IP, svc.node_port) for _ in range(4)} == {"web-a", "web-b"}
    log = proxy.logged()
    assert f"listener {svc.host}:{SERVICE_PORT} open -> {NAMESPACE}/web:http" in log
    assert f"listener {NODE_IP}:{svc.node_port} open -> {NAMESPACE}/web:http" in log


def test_an_unready_pod_stops_new_connections_at_once_and_cuts_open_ones(
    cluster: Cluster,
    proxy: Proxy,
    pods: Callable[[str, str], FakePod],
    services: Callable[[str], Svc],
) -> None:
    pod = pods("web-ready", "127.77.0.4")
    svc = services("ready")
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "web-ready",
        timeout_s=30,
        ignoring=TRANSIENT,
        message="the pod answering",
    )
    kept = http.client.HTTPConnection(svc.host, SERVICE_PORT, timeout=3)
    kept.request("GET", "/")
    assert kept.getresponse().read() == b"web-ready"

    set_ready(cluster, pod, False)
    flipped = time.monotonic()
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "reset",
        timeout_s=5,
        ignoring=TRANSIENT,
        message="a reset after Ready=False",
    )
    assert time.monotonic() - flipped < 2.0
    started = time.monotonic()
    assert [get(svc.host, SERVICE_PORT) for _ in range(5)] == ["reset"] * 5
    assert time.monotonic() - started < 1.0  # rejected at once, not timed out
    assert get(NODE_IP, svc.node_port) == "reset"

    # the keep-alive connection opened before was cut too: a client pool cannot hide the fault
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        kept.request("GET", "/")
        kept.getresponse().read()
    kept.close()
    assert f"endpoints {NAMESPACE}/ready:http = (none) (1 connections reset)" in proxy.logged()

    set_ready(cluster, pod, True)
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "web-ready",
        timeout_s=5,
        ignoring=TRANSIENT,
        message="the pod back after Ready=True",
    )
    assert f"endpoints {NAMESPACE}/ready:http = (none)" in proxy.logged()


def test_a_selector_matching_nothing_or_a_deleted_pod_leaves_no_endpoint(
    cluster: Cluster,
    proxy: Proxy,
    pods: Callable[[str, str], FakePod],
    services: Callable[[str], Svc],
) -> None:
    pod = pods("web-sel", "127.77.0.5")
    svc = services("selected")
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "web-sel",
        timeout_s=30,
        ignoring=TRANSIENT,
        message="the pod answering",
    )

    # what a chaos experiment does to cut a Service off
    cluster.core.patch_namespaced_service(
        svc.name, NAMESPACE, {"spec": {"selector": {"app": "nothing-matches"}}}
    )
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "reset",
        timeout_s=5,
        ignoring=TRANSIENT,
        message="a reset after the selector patch",
    )
    assert [get(NODE_IP, svc.node_port) for _ in range(3)] == ["reset"] * 3

    cluster.core.patch_namespaced_service(
        svc.name, NAMESPACE, {"spec": {"selector": {"app": "web"}}}
    )
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "web-sel",
        timeout_s=5,
        ignoring=TRANSIENT,
        message="the pod back after the rollback",
    )

    cluster.core.delete_namespaced_pod(pod.name, NAMESPACE, grace_period_seconds=0)
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "reset",
        timeout_s=5,
        ignoring=TRANSIENT,
        message="a reset after the pod's deletion",
    )


def test_deleting_the_service_closes_its_listeners(
    proxy: Proxy,
    pods: Callable[[str, str], FakePod],
    services: Callable[[str], Svc],
    cluster: Cluster,
) -> None:
    pods("web-del", "127.77.0.6")
    svc = services("doomed")
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "web-del",
        timeout_s=30,
        ignoring=TRANSIENT,
        message="the pod answering",
    )
    cluster.core.delete_namespaced_service(svc.name, NAMESPACE)
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "refused",
        timeout_s=5,
        ignoring=TRANSIENT,
        message="the ClusterIP listener closed",
    )
    assert get(NODE_IP, svc.node_port) == "refused"
    log = proxy.logged()
    assert f"listener {svc.host}:{SERVICE_PORT} closed" in log
    assert f"listener {NODE_IP}:{svc.node_port} closed" in log
    assert f"endpoints {NAMESPACE}/doomed:http removed" in log


def test_sigterm_closes_the_listeners_and_exits_zero(
    proxy: Proxy,
    pods: Callable[[str, str], FakePod],
    services: Callable[[str], Svc],
) -> None:
    pods("web-term", "127.77.0.7")
    svc = services("terminated")
    wait_until(
        lambda: get(svc.host, SERVICE_PORT) == "web-term",
        timeout_s=30,
        ignoring=TRANSIENT,
        message="the pod answering",
    )
    proxy.process.send_signal(signal.SIGTERM)
    assert proxy.process.wait(5) == 0
    assert get(svc.host, SERVICE_PORT) == "refused"
    assert get(NODE_IP, svc.node_port) == "refused"
    log = proxy.logged()
    assert f"listener {svc.host}:{SERVICE_PORT} closed" in log
    assert log.rstrip().endswith("service proxy stopped")
