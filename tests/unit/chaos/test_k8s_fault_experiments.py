"""The service-fault experiments of experiments/k8s/ (admin fault switches on every pod):
their shape, and their faults taken by the real restaurant service.

Each experiment's own method and rollback arguments are played with
``chaosgate.chaos.k8s_faults`` against the in-memory Kubernetes API, whose pod points at the
real service app (its Flask app factory, served by werkzeug on a loopback pod IP): the service's
own validation accepts the faults (a 400 would fail the action), answers with them set, and the
rollback turns every one of them off again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from restaurant.common.service import close_app
from restaurant.gateway.app import create_app as create_gateway
from restaurant.iot.app import create_app as create_iot
from restaurant.orders.app import create_app as create_orders
from restaurant.users.app import create_app as create_users
from werkzeug.serving import BaseWSGIServer, make_server

from chaosgate.chaos.experiments import chaosgate_extension, validate_experiment
from chaosgate.chaos.k8s_faults import clear_pod_faults, set_pod_faults
from chaosgate.http_clients import new_http_client
from tests.unit.chaos.fake_k8s import FakeKube, service_pod
from tests.unit.chaos.support import rule_labels
from tests.unit.services.support import Services

K8S = Path(__file__).resolve().parents[3] / "experiments" / "k8s"
NS = "restaurant"
SET = "chaosgate.chaos.k8s_faults.set_pod_faults"
CLEAR = "chaosgate.chaos.k8s_faults.clear_pod_faults"
AVAILABLE = "chaosk8s.deployment.probes.deployment_fully_available"

# file -> (Deployment, the faults it sets on every pod)
FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "gateway-error-ratio.json": ("gateway", {"error_ratio": 0.5, "route_prefix": "/api"}),
    "gateway-latency.json": ("gateway", {"latency_ms": 1500, "route_prefix": "/api"}),
    "users-error-ratio.json": ("users", {"error_ratio": 0.5, "route_prefix": "/api/users"}),
    "iot-error-ratio.json": ("iot", {"error_ratio": 0.1, "route_prefix": "/api/iot"}),
    "orders-failing.json": (
        "orders",
        {"error_ratio": 0.25, "route_prefix": "/api/orders", "methods": ["POST"]},
    ),
    "exhaust-orders-db-pool.json": ("orders", {"db_hold_connections": 5}),
    "leak-users-db-connections.json": ("users", {"db_hold_connections": 4}),
    "drop-users-connections.json": (
        "users",
        {"drop_connection_ratio": 0.5, "route_prefix": "/api/users"},
    ),
}
FACTORIES = {
    "gateway": create_gateway,
    "orders": create_orders,
    "users": create_users,
    "iot": create_iot,
}
POD_IPS = {"gateway": "127.1.0.201", "orders": "127.1.0.202", "users": "127.1.0.203"}
POD_IPS["iot"] = "127.1.0.204"


def _provider(activity: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    provider = activity["provider"]
    return f"{provider['module']}.{provider['func']}", dict(provider["arguments"])


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_the_fault_is_set_on_every_pod_and_always_cleared(name: str) -> None:
    deployment, faults = FAULTS[name]
    experiment = validate_experiment(K8S / name)
    selector = f"app.kubernetes.io/name={deployment}"
    assert experiment["runtime"]["rollbacks"]["strategy"] == "always"
    [fault] = experiment["method"]
    call, arguments = _provider(fault)
    assert (call, arguments) == (SET, {"label_selector": selector, "ns": NS, "faults": faults})
    # the fault lasts long enough for every expected alert to be seen within its deadline
    extension = chaosgate_extension(experiment, source=name)
    deadlines = [a.deadline_s for a in extension.expected_alerts]
    deadlines += [i.alert.deadline_s for i in extension.expected_inhibitions]
    assert fault["pauses"]["after"] >= max(deadlines)
    assert [_provider(a) for a in experiment["rollbacks"]] == [
        (CLEAR, {"label_selector": selector, "ns": NS})
    ]
    [hypothesis] = experiment["steady-state-hypothesis"]["probes"]
    assert _provider(hypothesis) == (AVAILABLE, {"name": deployment, "ns": NS, "timeout": 60})


def test_pool_exhaustion_expects_its_symptoms_inhibited_by_it() -> None:
    experiment = validate_experiment(K8S / "exhaust-orders-db-pool.json")
    extension = chaosgate_extension(experiment, source="exhaust-orders-db-pool")
    [source] = extension.expected_alerts
    assert (source.alertname, dict(source.labels)) == (
        "DatabasePoolExhausted",
        {"service": "orders", "severity": "critical"},
    )
    inhibited = {
        item.alert.alertname: dict(item.alert.labels)
        for item in extension.expected_inhibitions
        if item.inhibited_by == source.alertname
    }
    assert len(inhibited) == len(extension.expected_inhibitions)
    assert inhibited == {
        "DatabaseTooManyConnections": {"service": "orders", "severity": "warning"},
        "OrderFailuresHigh": {"service": "orders", "severity": "critical"},
        "GatewayHighErrorRate": {"service": "gateway", "severity": "critical"},
        "GatewayHighLatency": {"service": "gateway", "severity": "warning"},
    }
    # labels are the rules' own, or the series' service (the pool rules set only severity)
    by_rule = rule_labels()
    for item in extension.expected_inhibitions:
        own = {k: v for k, v in item.alert.labels.items() if k != "service"}
        assert own.items() <= by_rule[item.alert.alertname].items()
        assert item.alert.deadline_s == 30


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with new_http_client(5.0) as client:
        yield client


@pytest.fixture(scope="module")
def pods(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, int]]]:
    """Each service's real app served on its own loopback pod IP: name -> (ip, port)."""
    services = Services(tmp_path_factory.mktemp("services"))
    served: list[tuple[Flask, BaseWSGIServer, threading.Thread]] = []
    where: dict[str, tuple[str, int]] = {}
    try:
        for service, factory in FACTORIES.items():
            app = factory(services.settings(service, admin_faults=True))
            server = make_server(POD_IPS[service], 0, app, threaded=True)
            thread = threading.Thread(
                target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
            )
            thread.start()
            served.append((app, server, thread))
            where[service] = (POD_IPS[service], server.server_port)
        yield where
    finally:
        for app, server, thread in served:
            server.shutdown()
            thread.join(timeout=10)
            close_app(app)


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_the_real_service_takes_the_experiments_faults_and_the_rollback_clears_them(
    name: str, pods: dict[str, tuple[str, int]], http: httpx.Client
) -> None:
    deployment, _ = FAULTS[name]
    ip, port = pods[deployment]
    url = f"http://{ip}:{port}/admin/faults"
    off = http.get(url).json()
    fake = FakeKube()
    fake.add(service_pod(f"{deployment}-a", {"app.kubernetes.io/name": deployment}, ip=ip,
                         port=port))  # fmt: skip
    experiment = validate_experiment(K8S / name)
    _, arguments = _provider(experiment["method"][0])
    _, rollback = _provider(experiment["rollbacks"][0])

    try:
        result = set_pod_faults(**arguments, api=fake.client(), environ={})
        [answer] = result["pods"]
        assert {key: answer["faults"][key] for key in arguments["faults"]} == arguments["faults"]
        assert http.get(url).json() == answer["faults"]
    finally:
        cleared = clear_pod_faults(**rollback, api=fake.client(), environ={})
    assert [pod["faults"] for pod in cleared["pods"]] == [off]
    assert http.get(url).json() == off
