"""`chaosgate stack up --k8s`, through the real API server: the restaurant Deployments run as
real processes on the local node, a pod kill ends its process and the Deployment's new pod runs
a new one, Prometheus finds the pods, and a request's trace and logs still arrive."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s_client

from chaosgate.chaos.k8s_env import kubernetes_environment
from chaosgate.target import KubernetesConfig
from refstack.launcher.launcher import stack_status
from tests.integration.k8s.conftest import K8sStack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

NAMESPACE = "restaurant"
DEADLINE_S = 30.0


@pytest.fixture()
def core(k8s_stack: K8sStack) -> Iterator[k8s_client.CoreV1Api]:
    api = k8s_stack.api()
    yield k8s_client.CoreV1Api(api)
    api.close()  # type: ignore[no-untyped-call]


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def _pid(pod: Any) -> int:
    (status,) = pod.status.container_statuses
    container_id: str = status.container_id
    scheme, _, pid = container_id.partition("://")
    assert scheme == "process", container_id
    return int(pid)


def _alive(pid: int) -> bool:
    try:
        stat = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - one read
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _ready_pods(core: k8s_client.CoreV1Api, app: str) -> list[Any]:
    pods: Any = core.list_namespaced_pod(NAMESPACE, label_selector=f"app.kubernetes.io/name={app}")
    return [
        pod
        for pod in pods.items
        if pod.metadata.deletion_timestamp is None
        and any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])
    ]


def test_every_part_is_up_and_the_services_run_as_ready_pods_on_loopback(
    k8s_stack: K8sStack, core: k8s_client.CoreV1Api, http: httpx.Client
) -> None:
    statuses = stack_status(k8s_stack.layout, http)
    assert statuses is not None
    assert {s.name: s.state for s in statuses if s.state != "up"} == {}
    nodes: Any = core.list_node()
    (node,) = nodes.items
    assert node.metadata.name == "chaosgate-local"
    assert any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)
    assert not [t for t in node.spec.taints or [] if t.effect == "NoSchedule"]
    for app, replicas in {"gateway": 2, "orders": 2, "users": 1, "iot": 1}.items():
        pods = _ready_pods(core, app)
        assert len(pods) == replicas, app
        for pod in pods:
            assert pod.status.pod_ip.startswith("127.1."), pod.status.pod_ip
            pid = _pid(pod)
            assert _alive(pid)
            environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")  # noqa: SIM115
            assert b"POD_IP=" + pod.status.pod_ip.encode() in environ
            assert any(var.startswith(b"ORDERS_SERVICE_HOST=127.") for var in environ)
    answer = http.get(f"{k8s_stack.urls['gateway']}/healthz")
    assert answer.status_code == 200 and answer.json()["service"] == "gateway"


def test_prometheus_scrapes_every_pod_found_through_the_api(
    k8s_stack: K8sStack, core: k8s_client.CoreV1Api, http: httpx.Client
) -> None:
    expected = {
        pod.metadata.name for app in ("gateway", "orders") for pod in _ready_pods(core, app)
    }

    def scraped() -> set[str] | None:
        response = http.get(
            f"{k8s_stack.urls['prometheus']}/api/v1/query",
            params={"query": 'up{job=~"gateway|orders", namespace="restaurant"} == 1'},
        )
        pods = {r["metric"]["pod"] for r in response.json()["data"]["result"]}
        return pods if expected <= pods else None

    wait_until(scraped, timeout_s=DEADLINE_S, message=f"Prometheus scraping {sorted(expected)}")


def test_a_pod_kill_ends_its_process_and_the_new_pod_runs_a_new_one(
    k8s_stack: K8sStack, core: k8s_client.CoreV1Api, capsys: pytest.CaptureFixture[str]
) -> None:
    from chaosk8s.pod.actions import terminate_pods

    (before,) = _ready_pods(core, "users")
    old_pid = _pid(before)
    assert _alive(old_pid)
    config = KubernetesConfig(kubeconfig=str(k8s_stack.kubeconfig), namespaces=(NAMESPACE,))
    killed_at = time.monotonic()
    with kubernetes_environment(config):  # what the runner does around an experiment
        terminate_pods(label_selector="app.kubernetes.io/name=users", ns=NAMESPACE, all=True)
    wait_until(
        lambda: not _alive(old_pid),
        timeout_s=20,
        message=f"the killed pod's process {old_pid} gone",
    )
    ended_s = time.monotonic() - killed_at

    def replacement() -> Any | None:
        pods = [p for p in _ready_pods(core, "users") if p.metadata.uid != before.metadata.uid]
        return pods[0] if pods else None

    after = wait_until(replacement, timeout_s=60, message="a ready replacement pod")
    new_pid = _pid(after)
    assert new_pid != old_pid and _alive(new_pid)
    assert after.metadata.name != before.metadata.name
    assert after.metadata.owner_references[0].kind == "ReplicaSet"
    with capsys.disabled():
        print(
            f"\n[figure] users pod killed: process {old_pid} gone after {ended_s:.1f} s, "
            f"new pod {after.metadata.name} (pid {new_pid}) ready after "
            f"{time.monotonic() - killed_at:.1f} s"
        )


def test_a_request_through_the_node_port_leaves_its_trace_and_its_logs(
    k8s_stack: K8sStack, http: httpx.Client
) -> None:
    trace_id = secrets.token_hex(16)
    request_id = f"it-k8s-{secrets.token_hex(6)}"
    headers = {
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
        "X-Request-ID": request_id,
    }
    gateway = k8s_stack.urls["gateway"]
    menu = http.get(f"{gateway}/api/menu").json()
    dishes = menu["items"] if isinstance(menu, dict) else menu
    body = {"table": 7, "items": [{"menu_id": dishes[0]["id"], "quantity": 1}]}
    created = http.post(f"{gateway}/api/orders", json=body, headers=headers)
    assert created.status_code == 201, created.text
    order = created.json()
    # the other orders replica knows the order too (one database for the Deployment)
    for _ in range(4):
        fetched = http.get(f"{gateway}/api/orders/{order['id']}")
        assert fetched.status_code == 200, fetched.text

    def trace_services() -> set[str] | None:
        response = http.get(f"{k8s_stack.urls['jaeger']}/api/traces/{trace_id}")
        if response.status_code != 200 or not response.json()["data"]:
            return None
        processes = response.json()["data"][0]["processes"].values()
        services = {p["serviceName"] for p in processes}
        return services if {"gateway", "orders"} <= services else None

    def log_services() -> set[str] | None:
        response = http.post(
            f"{k8s_stack.urls['store']}/restaurant-logs-*/_search",
            json={"size": 50, "query": {"terms": {"trace_id": [trace_id]}}},
        )
        if response.status_code != 200:
            return None
        hits = [hit["_source"] for hit in response.json()["hits"]["hits"]]
        assert all(hit["request_id"] == request_id for hit in hits)
        services = {hit["service"] for hit in hits}
        return services if {"gateway", "orders"} <= services else None

    wait_until(trace_services, timeout_s=DEADLINE_S, message="the trace in Jaeger")
    wait_until(log_services, timeout_s=DEADLINE_S, message="its log lines in OpenSearch")


def test_the_stack_s_kubeconfig_is_what_users_get(k8s_stack: K8sStack) -> None:
    assert k8s_stack.kubeconfig.is_file()
    assert oct(k8s_stack.kubeconfig.stat().st_mode & 0o777) == "0o600"
    version = k8s_stack.run("version", "-o=json")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"] == "v1.37.2"
