"""The node agent against a real control plane: pods are real processes, through the real API.

A bare control plane of this module's own (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler: tests/integration/k8s/bare_control_plane.py) on loopback ports 17379/17443,
with Services from 10.200.0.0/16, so its node is the only one; the agent runs as a subprocess
with pods from 127.2.0.0/16.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from refstack.node_config import service_loopback_ip
from tests.integration.k8s.bare_control_plane import bare_control_plane
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

REPO = Path(__file__).resolve().parents[3]
HOST = "127.0.0.1"
ETCD_PORT = 17379
API_PORT = 17443
SERVICE_CIDR = "10.200.0.0/16"
POD_CIDR = "127.2.0.0/16"
AGENT_HEALTH_PORT = 17448
NAMESPACE = "agent-test"
# what a poll may meet while the API server, the agent or a pod is still coming up
TRANSIENT = (ApiException, httpx.HTTPError, OSError)


@dataclass(frozen=True)
class ControlPlane:
    kubeconfig: Path
    api: client.ApiClient


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    with bare_control_plane(
        tmp_path_factory.mktemp("control-plane"),
        api_port=API_PORT,
        etcd_port=ETCD_PORT,
        service_cidr=SERVICE_CIDR,
        controllers=True,
    ) as plane:
        api = plane.api()
        yield ControlPlane(kubeconfig=plane.kubeconfig, api=api)
        api.close()  # type: ignore[no-untyped-call]


@dataclass
class Agent:
    """The agent subprocess(es) of this module; ``start`` runs another one on the same node."""

    config_path: Path
    log_dir: Path
    state_dir: Path
    log: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.processes[-1]

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "refstack.node",
                        "--config",
                        str(self.config_path),
                    ],
                    cwd=REPO,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        with httpx.Client(timeout=2, trust_env=False) as http:
            wait_until(
                lambda: http.get(f"http://{HOST}:{AGENT_HEALTH_PORT}/healthz").status_code == 200,
                timeout_s=60,
                interval_s=0.25,
                ignoring=TRANSIENT,
                message="the agent's /healthz answering 200",
            )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture(scope="module")
def agent(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agent]:
    work = tmp_path_factory.mktemp("node")
    config = {
        "kubeconfig": str(control_plane.kubeconfig),
        "node_name": "chaosgate-local",
        "node_ip": HOST,
        "pod_cidr": POD_CIDR,
        "service_cidr": SERVICE_CIDR,
        "apiserver_host": HOST,
        "apiserver_port": API_PORT,
        "state_dir": str(work / "state"),
        "container_log_dir": str(work / "pod-logs"),
        "agent_health_port": AGENT_HEALTH_PORT,
        "proxy_health_port": AGENT_HEALTH_PORT + 1,
        "images": {"chaosgate/test": {"path": ["/usr/bin"], "start_delay_s": 0.5}},
    }
    config_path = work / "node.yaml"
    config_path.write_text(yaml.safe_dump(config))
    node = Agent(config_path, work / "pod-logs", work / "state", work / "agent.log")
    try:
        node.start()
        yield node
    finally:
        node.stop_all()


def _core(plane: ControlPlane) -> client.CoreV1Api:
    return client.CoreV1Api(plane.api)


def _pid(pod: client.V1Pod) -> int | None:
    statuses = (pod.status.container_statuses if pod.status else None) or []
    if not statuses or not statuses[0].container_id:
        return None
    return int(statuses[0].container_id.removeprefix("process://"))


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _ready(pod: client.V1Pod) -> bool:
    conditions = (pod.status.conditions if pod.status else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


WEB_POD_SPEC: dict[str, Any] = {
    "terminationGracePeriodSeconds": 5,
    "containers": [
        {
            "name": "web",
            "image": "chaosgate/test:1",
            "command": ["python3", "-m", "http.server", "--bind", "$(POD_IP)", "8000"],
            "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
            "ports": [{"name": "http", "containerPort": 8000}],
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 1},
        }
    ],
}


@pytest.fixture(scope="module")
def web(control_plane: ControlPlane, agent: Agent) -> client.V1Service:
    """Namespace, Service ``web`` and a 2-replica Deployment ``web`` of http.server pods."""
    core = _core(control_plane)
    namespace = client.V1Namespace.from_dict({"metadata": {"name": NAMESPACE}})
    assert namespace is not None
    core.create_namespace(namespace)
    wait_until(
        lambda: core.read_namespaced_service_account("default", NAMESPACE),
        timeout_s=60,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="the namespace's default ServiceAccount (controller-manager)",
    )
    service = client.V1Service.from_dict(
        {
            "metadata": {"name": "web"},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 8000}]},
        }
    )
    assert service is not None
    created = core.create_namespaced_service(NAMESPACE, service)
    deployment = client.V1Deployment.from_dict(
        {
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": WEB_POD_SPEC},
            },
        }
    )
    assert deployment is not None
    client.AppsV1Api(control_plane.api).create_namespaced_deployment(NAMESPACE, deployment)
    return created


def _web_pods(plane: ControlPlane) -> list[client.V1Pod]:
    pods = _core(plane).list_namespaced_pod(NAMESPACE, label_selector="app=web").items
    return [p for p in pods if p.metadata and not p.metadata.deletion_timestamp]


def _two_ready_web_pods(plane: ControlPlane) -> list[client.V1Pod]:
    def check() -> list[client.V1Pod] | None:
        pods = _web_pods(plane)
        ready = [p for p in pods if _ready(p) and _pid(p)]
        return ready if len(ready) == 2 else None

    return wait_until(
        check, timeout_s=90, interval_s=0.25, ignoring=TRANSIENT, message="two ready web pods"
    )


def test_the_node_is_registered_ready_untainted_with_a_lease(
    control_plane: ControlPlane, agent: Agent
) -> None:
    core = _core(control_plane)
    node = core.read_node("chaosgate-local")
    assert node.metadata and node.metadata.labels and node.status and node.spec
    assert node.metadata.labels["kubernetes.io/hostname"] == "chaosgate-local"
    assert node.metadata.labels["kubernetes.io/os"] == "linux"
    conditions = {c.type: c.status for c in node.status.conditions or []}
    assert conditions == {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False",
                          "PIDPressure": "False"}  # fmt: skip
    version = client.VersionApi(control_plane.api).get_code()
    assert node.status.node_info and node.status.node_info.kubelet_version == version.git_version
    assert node.status.capacity and node.status.capacity["cpu"] == str(os.cpu_count())
    addresses = {a.type: a.address for a in node.status.addresses or []}
    assert addresses == {"InternalIP": HOST, "Hostname": "chaosgate-local"}

    def untainted() -> bool:
        spec = core.read_node("chaosgate-local").spec
        return spec is not None and not spec.taints

    wait_until(
        untainted,
        timeout_s=60,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="no taints left on the ready node",
    )
    leases = client.CoordinationV1Api(control_plane.api)

    def renew_time() -> Any:
        spec = leases.read_namespaced_lease("chaosgate-local", "kube-node-lease").spec
        assert spec is not None and spec.holder_identity == "chaosgate-local"
        return spec.renew_time

    first = renew_time()
    renewed = wait_until(
        lambda: (t := renew_time()) != first and t,
        timeout_s=25,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="the lease renewed",
    )
    assert first is not None and renewed > first


def test_deployment_pods_are_processes_with_the_service_env(
    control_plane: ControlPlane, agent: Agent, web: client.V1Service
) -> None:
    pods = _two_ready_web_pods(control_plane)
    assert web.spec and web.spec.cluster_ip
    service_host = service_loopback_ip(web.spec.cluster_ip)
    ips = set()
    for pod in pods:
        assert pod.status and pod.status.pod_ip and pod.metadata and pod.metadata.name
        ip = pod.status.pod_ip
        ips.add(ip)
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(POD_CIDR)
        assert pod.status.host_ip == HOST
        pid = _pid(pod)
        assert pid is not None and _alive(pid)
        env = _environ(pid)
        assert env["WEB_SERVICE_HOST"] == service_host
        assert env["WEB_SERVICE_PORT"] == env["WEB_SERVICE_PORT_HTTP"] == "8000"
        assert env["WEB_PORT_8000_TCP"] == f"tcp://{service_host}:8000"
        assert env["KUBERNETES_SERVICE_HOST"] == HOST
        assert env["KUBERNETES_SERVICE_PORT"] == str(API_PORT)
        assert env["POD_IP"] == ip
        assert env["HOSTNAME"] == pod.metadata.name
        assert env["PATH"].startswith("/usr/bin:")
        assert psutil.Process(pid).cmdline()[-3:] == ["--bind", ip, "8000"]
        with httpx.Client(timeout=5, trust_env=False) as http:
            assert http.get(f"http://{ip}:8000/").status_code == 200
        log = agent.log_dir / f"{NAMESPACE}_{pod.metadata.name}_web.log"
        assert '"GET / HTTP/1.1" 200' in log.read_text()
    assert len(ips) == 2


def test_deleting_a_pod_ends_its_process_and_the_replacement_runs_anew(
    control_plane: ControlPlane, agent: Agent, web: client.V1Service
) -> None:
    victim, survivor = _two_ready_web_pods(control_plane)
    assert victim.metadata and victim.metadata.name and survivor.status
    old_pid = _pid(victim)
    assert old_pid is not None
    _core(control_plane).delete_namespaced_pod(victim.metadata.name, NAMESPACE)
    wait_until(
        lambda: not _alive(old_pid),
        timeout_s=20,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="the deleted pod's process gone",
    )
    victim_name, survivor_name = victim.metadata.name, survivor.metadata.name  # type: ignore[union-attr]

    def names() -> set[str]:
        pods = _core(control_plane).list_namespaced_pod(NAMESPACE).items
        return {str(p.metadata.name) for p in pods if p.metadata}

    wait_until(
        lambda: victim_name not in names(),
        timeout_s=20,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="the pod object removed after its containers stopped",
    )
    pods = _two_ready_web_pods(control_plane)
    replacement = next(p for p in pods if p.metadata and p.metadata.name != survivor_name)
    new_pid = _pid(replacement)
    assert new_pid is not None and new_pid != old_pid and _alive(new_pid)
    assert replacement.status and replacement.status.pod_ip != survivor.status.pod_ip


def test_readiness_follows_the_probe(control_plane: ControlPlane, agent: Agent) -> None:
    core = _core(control_plane)
    spec = yaml.safe_load(yaml.safe_dump(WEB_POD_SPEC))
    probe = spec["containers"][0]["readinessProbe"]
    probe["httpGet"]["path"] = "/ready"  # http.server serves its working directory
    probe["failureThreshold"] = 1
    pod = client.V1Pod.from_dict({"metadata": {"name": "probed"}, "spec": spec})
    assert pod is not None
    core.create_namespaced_pod(NAMESPACE, pod)
    pid = wait_until(
        lambda: _pid(core.read_namespaced_pod("probed", NAMESPACE)),
        timeout_s=60,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="probed runs",
    )
    time.sleep(2.5)  # a few probe periods
    assert not _ready(core.read_namespaced_pod("probed", NAMESPACE))
    ready_file = Path(f"/proc/{pid}/cwd").resolve() / "ready"
    assert str(ready_file).startswith(str(agent.state_dir / "pods"))  # the sandbox dir
    ready_file.write_text("ok")
    wait_until(
        lambda: _ready(core.read_namespaced_pod("probed", NAMESPACE)),
        timeout_s=60,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="probed ready",
    )
    ready_file.unlink()
    wait_until(
        lambda: not _ready(core.read_namespaced_pod("probed", NAMESPACE)),
        timeout_s=60,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="probed unready again",
    )
    core.delete_namespaced_pod("probed", NAMESPACE)
    wait_until(
        lambda: not _alive(pid),
        timeout_s=20,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="probed's process gone",
    )


def test_sigkill_restarts_the_container_and_counts_it(
    control_plane: ControlPlane, agent: Agent, web: client.V1Service
) -> None:
    core = _core(control_plane)
    pod = _two_ready_web_pods(control_plane)[0]
    assert pod.metadata and pod.metadata.name
    name = pod.metadata.name
    old_pid = _pid(pod)
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)

    def restarted() -> client.V1ContainerStatus | None:
        status = core.read_namespaced_pod(name, NAMESPACE).status
        containers = (status.container_statuses if status else None) or []
        return containers[0] if containers and containers[0].restart_count == 1 else None

    container = wait_until(
        restarted,
        timeout_s=30,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="restartCount 1 after SIGKILL",
    )
    assert container.last_state and container.last_state.terminated
    assert container.last_state.terminated.exit_code == 137
    assert container.last_state.terminated.container_id == f"process://{old_pid}"

    def ready_again() -> client.V1Pod | None:
        found = core.read_namespaced_pod(name, NAMESPACE)
        return found if _ready(found) else None

    again = wait_until(
        ready_again,
        timeout_s=60,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="the restarted pod ready again",
    )
    new_pid = _pid(again)
    assert new_pid is not None and new_pid != old_pid and _alive(new_pid)


def test_the_next_agent_replaces_what_a_killed_agent_left_running(
    control_plane: ControlPlane, agent: Agent, web: client.V1Service
) -> None:
    before = {p.metadata.name: p for p in _two_ready_web_pods(control_plane) if p.metadata}
    agent.process.kill()  # SIGKILL: its containers keep running, orphaned
    agent.process.wait(10)
    left = [_pid(p) for p in before.values()]
    assert all(pid is not None and _alive(pid) for pid in left)
    agent.start()
    wait_until(
        lambda: not any(pid is not None and _alive(pid) for pid in left),
        timeout_s=10,
        interval_s=0.1,
        message=f"the leftover processes {left} gone",
    )

    def restarted() -> list[client.V1Pod] | None:
        pods = _two_ready_web_pods(control_plane)
        fresh = [p for p in pods if _pid(p) not in left]
        return fresh if len(fresh) == 2 else None

    for pod in wait_until(
        restarted,
        timeout_s=60,
        interval_s=0.25,
        ignoring=TRANSIENT,
        message="both web pods running again, with new processes",
    ):
        assert pod.metadata and pod.metadata.name in before  # the same pods, started afresh
        old = before[pod.metadata.name]
        assert pod.status and old.status and pod.status.pod_ip == old.status.pod_ip
        count = (pod.status.container_statuses or [])[0].restart_count
        assert count == (old.status.container_statuses or [])[0].restart_count + 1


def test_stopping_the_agent_stops_its_processes(
    control_plane: ControlPlane, agent: Agent, web: client.V1Service
) -> None:
    pids = [_pid(p) for p in _two_ready_web_pods(control_plane)]
    agent.process.send_signal(signal.SIGTERM)
    assert agent.process.wait(30) == 0
    wait_until(
        lambda: not any(pid is not None and _alive(pid) for pid in pids),
        timeout_s=10,
        interval_s=0.1,
        message=f"the container processes {pids} gone",
    )
    assert all(pid is not None for pid in pids)
