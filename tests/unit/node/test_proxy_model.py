from __future__ import annotations

from typing import Any

from kubernetes.client import V1Pod, V1Service

from refstack.proxy.model import PodInfo, ServicePortInfo, pod_info, service_info


def as_pod(data: dict[str, Any]) -> V1Pod:
    pod = V1Pod.from_dict(data)
    assert pod is not None
    return pod


def as_service(data: dict[str, Any]) -> V1Service:
    service = V1Service.from_dict(data)
    assert service is not None
    return service


def api_pod(**status: Any) -> V1Pod:
    return as_pod(
        {
            "metadata": {"name": "gateway-1", "namespace": "restaurant", "labels": {"app": "g"}},
            "spec": {
                "containers": [
                    {
                        "name": "main",
                        "image": "chaosgate/restaurant:dev",
                        "ports": [
                            {"name": "http", "containerPort": 8080},
                            {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                            {"containerPort": 9999},
                        ],
                    },
                    {
                        "name": "side",
                        "image": "x",
                        "ports": [
                            {"name": "http", "containerPort": 1},
                            {"name": "adm", "containerPort": 7},
                        ],
                    },
                ]
            },
            "status": status,
        }
    )


def test_pod_info_keeps_ip_readiness_labels_and_named_tcp_ports() -> None:
    info = pod_info(
        api_pod(
            podIP="127.1.0.4", phase="Running", conditions=[{"type": "Ready", "status": "True"}]
        )
    )
    assert info == PodInfo(
        namespace="restaurant",
        name="gateway-1",
        labels={"app": "g"},
        ip="127.1.0.4",
        ready=True,
        terminating=False,
        named_ports={"http": 8080, "adm": 7},  # first container wins a name; UDP ignored
    )


def test_pod_without_ready_true_is_not_ready() -> None:
    for conditions in (
        [],
        [{"type": "Ready", "status": "False"}],
        [{"type": "ContainersReady", "status": "True"}],
        [{"type": "Ready", "status": "Unknown"}],
    ):
        assert not pod_info(api_pod(podIP="127.1.0.4", conditions=conditions)).ready


def test_pod_without_status_has_no_ip() -> None:
    info = pod_info(as_pod({"metadata": {"name": "p", "namespace": "n"}}))
    assert (info.ip, info.ready, info.terminating) == (None, False, False)


def test_deleted_or_finished_pods_are_terminating() -> None:
    deleting = api_pod(podIP="127.1.0.4", phase="Running")
    assert deleting.metadata is not None
    deleting.metadata.deletion_timestamp = "2026-01-01T00:00:00Z"  # type: ignore[assignment]
    assert pod_info(as_pod(deleting.to_dict())).terminating
    assert pod_info(api_pod(phase="Succeeded")).terminating
    assert pod_info(api_pod(phase="Failed")).terminating
    assert not pod_info(api_pod(phase="Pending")).terminating


def test_service_info_keeps_ports_selector_and_type() -> None:
    service = as_service(
        {
            "metadata": {"name": "gateway", "namespace": "restaurant"},
            "spec": {
                "type": "NodePort",
                "clusterIP": "10.96.4.5",
                "selector": {"app.kubernetes.io/name": "gateway"},
                "ports": [
                    {"name": "http", "port": 8080, "targetPort": "http", "nodePort": 30080},
                    {"name": "metrics", "port": 9090, "targetPort": 9091, "protocol": "TCP"},
                ],
            },
        }
    )
    info = service_info(service)
    assert (info.ref, info.type, info.cluster_ip) == ("restaurant/gateway", "NodePort", "10.96.4.5")
    assert info.selector == {"app.kubernetes.io/name": "gateway"}
    assert info.ports == (
        ServicePortInfo(port=8080, name="http", target_port="http", node_port=30080),
        ServicePortInfo(port=9090, name="metrics", target_port=9091),
    )
    assert not info.publish_not_ready


def test_service_defaults_headless_and_publish_not_ready() -> None:
    info = service_info(
        as_service(
            {
                "metadata": {"name": "db", "namespace": "x"},
                "spec": {
                    "clusterIP": "None",
                    "publishNotReadyAddresses": True,
                    "ports": [{"port": 5432}],
                },
            }
        )
    )
    assert info.type == "ClusterIP"
    assert info.cluster_ip == "None"
    assert info.selector == {}
    assert info.publish_not_ready
    assert info.ports[0].key == 5432
