"""experiments/k8s/ run through run_experiment against the local cluster (`stack up --k8s`).

What these check is what the experiments do to the real stack: the stress pod is a real
stress-ng process on the node and the node's CPUs really are busy (node-exporter, read through
Prometheus); NodeHighCPU reaches Alertmanager within its 30 s; the rollback leaves no pod
behind. And a detached orders Service keeps its ClusterIP, really cuts the gateway off its
upstream, and is whole again after the rollback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from kubernetes import client

from assertions.backends.alertmanager import AlertmanagerBackend, label_matchers
from assertions.backends.errors import BackendError
from assertions.backends.prometheus import PrometheusBackend
from chaosgate.chaos.experiments import failed_activities, run_experiment
from chaosgate.chaos.k8s_actions import detach_service, reattach_service
from chaosgate.chaos.k8s_env import kubernetes_environment
from chaosgate.chaos.timeline import Timeline
from chaosgate.target import LOCAL_NODE_NAME, KubernetesConfig
from refstack.launcher.k8s_parts import k8s_files
from tests.integration.k8s.conftest import K8sStack
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

K8S = Path(__file__).resolve().parents[3] / "experiments" / "k8s"
NS = "restaurant"
STRESS_PODS = "app.kubernetes.io/name=chaosgate-stress,app.kubernetes.io/component=cpu"
BUSY = '1 - avg by (instance) (rate(node_cpu_seconds_total{job="node", mode="idle"}[15s]))'


def _say(message: str) -> None:
    print(f"[figure] {message}", flush=True)


def _config(stack: K8sStack) -> KubernetesConfig:
    return KubernetesConfig(
        kubeconfig=str(stack.kubeconfig), namespaces=(NS,), stress_node=LOCAL_NODE_NAME
    )


class _NodeWatch:
    """Beside the experiment: node CPU busy share (Prometheus) and NodeHighCPU (Alertmanager),
    polled every second."""

    def __init__(self, stack: K8sStack) -> None:
        self._session = requests.Session()
        self._http = httpx.Client(timeout=5.0)
        self._prometheus = PrometheusBackend(self._session, stack.urls["prometheus"])
        self._alertmanager = AlertmanagerBackend(self._http, stack.urls["alertmanager"])
        self.busy: list[tuple[float, float]] = []
        self.alert_seen_at: float | None = None
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            try:
                samples = self._prometheus.instant(BUSY)
                if samples:
                    self.busy.append((now, max(sample.value for sample in samples)))
                alerts = self._alertmanager.alerts(
                    filters=label_matchers({"alertname": "NodeHighCPU"})
                )
                if self.alert_seen_at is None and any(a.state == "active" for a in alerts):
                    self.alert_seen_at = now
            except BackendError as exc:
                self.errors.append(str(exc))
            self._stop.wait(1.0)

    def __enter__(self) -> _NodeWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)
        self._http.close()
        self._session.close()


@pytest.fixture
def api(k8s_stack: K8sStack) -> Iterator[client.ApiClient]:
    with closing(k8s_stack.api()) as api_client:
        yield api_client


def _stress_pods(api: client.ApiClient) -> list[client.V1Pod]:
    return list(client.CoreV1Api(api).list_namespaced_pod(NS, label_selector=STRESS_PODS).items)


def test_the_cpu_stress_pod_saturates_the_node_raises_node_high_cpu_and_goes(
    k8s_stack: K8sStack, api: client.ApiClient
) -> None:
    assert _stress_pods(api) == [], "a stress pod of an earlier run is still there"
    timeline = Timeline()

    with _NodeWatch(k8s_stack) as watch, kubernetes_environment(_config(k8s_stack)):
        journal: dict[str, Any] = run_experiment(
            K8S / "saturate-node-cpu.json",
            timeline=timeline,
            configuration={"stress_node": LOCAL_NODE_NAME},
        )
        time.sleep(2)  # one more sample after the rollback

    assert journal["status"] == "completed", journal
    assert journal["deviated"] is False
    assert failed_activities(journal) == []
    [window] = timeline.experiment_spans()
    assert window.inject_at is not None and window.rollback_at is not None
    started = journal["run"][0]["output"]
    assert started["node"] == LOCAL_NODE_NAME

    # a real stress-ng ran in that pod (the node agent's container log)
    log = k8s_files(k8s_stack.layout).pod_logs / f"{NS}_{started['pod']}_stress-ng.log"
    assert "dispatching hogs" in log.read_text(), log

    # the node's CPUs were saturated while the fault was on
    during = [v for t, v in watch.busy if window.inject_at + 20 <= t <= window.rollback_at]
    assert during, f"no CPU sample in the window; errors: {watch.errors[-3:]}"
    assert max(during) >= 0.9, during
    _say(f"node CPU busy during the stress: max {max(during):.1%}, min {min(during):.1%}")

    # NodeHighCPU was active in Alertmanager within 30 s of the inject
    assert watch.alert_seen_at is not None, f"NodeHighCPU never active; errors {watch.errors[-3:]}"
    latency = watch.alert_seen_at - window.inject_at
    _say(f"NodeHighCPU active {latency:.1f} s after the stress pod was started")
    assert latency <= 30

    # after the rollback the pod and its Job are gone
    assert _stress_pods(api) == []
    jobs = client.BatchV1Api(api).list_namespaced_job(NS).items
    assert "chaosgate-stress-cpu" not in {job.metadata.name for job in jobs if job.metadata}


def test_a_detached_orders_service_keeps_its_cluster_ip_cuts_the_gateway_off_and_comes_back(
    k8s_stack: K8sStack, api: client.ApiClient
) -> None:
    v1 = client.CoreV1Api(api)
    before = v1.read_namespaced_service("orders", NS)
    assert before.spec is not None
    menu = f"{k8s_stack.urls['gateway']}/api/menu"
    with httpx.Client(timeout=10.0) as http:
        assert http.get(menu).status_code == 200
        try:
            detached = detach_service("orders", NS, api=api)
            assert detached["detached"] is True
            statuses: list[int] = []

            def upstream_lost() -> bool:
                statuses.append(http.get(menu).status_code)
                return statuses[-1] >= 500

            wait_until(
                upstream_lost,
                timeout_s=15,
                interval_s=0.5,
                message=lambda: (
                    f"a 5xx from the gateway (its upstream lost); it answered {statuses}"
                ),
            )
            during = v1.read_namespaced_service("orders", NS)
            assert during.spec is not None
            assert during.spec.cluster_ip == before.spec.cluster_ip
        finally:
            reattached = reattach_service("orders", NS, api=api)
        assert reattached["reattached"] is True
        after = v1.read_namespaced_service("orders", NS)
        assert after.spec is not None and after.spec.selector == before.spec.selector
        wait_until(
            lambda: http.get(menu).status_code == 200,
            timeout_s=15,
            interval_s=0.5,
            message="the gateway reaching orders again",
        )
