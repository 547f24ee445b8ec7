from __future__ import annotations

from refstack.proxy.listeners import (
    ListenerKey,
    Route,
    diff_listeners,
    plan_listeners,
)
from refstack.proxy.model import ServiceInfo, ServicePortInfo

NODE_IP = "127.0.0.1"
SELECTOR = {"app": "x"}


def svc(
    name: str,
    cluster_ip: str | None,
    *ports: ServicePortInfo,
    type_: str = "ClusterIP",
    selector: dict[str, str] | None = None,
    namespace: str = "restaurant",
) -> ServiceInfo:
    return ServiceInfo(
        namespace=namespace,
        name=name,
        cluster_ip=cluster_ip,
        type=type_,
        selector=SELECTOR if selector is None else selector,
        ports=ports,
    )


def test_cluster_ip_service_listens_on_its_loopback_twin_per_tcp_port() -> None:
    service = svc(
        "orders",
        "10.96.1.2",
        ServicePortInfo(port=8081, name="http"),
        ServicePortInfo(port=9090, name="metrics"),
        ServicePortInfo(port=53, name="dns", protocol="UDP"),
    )
    plan = plan_listeners([service], NODE_IP)
    assert plan.routes == {
        ListenerKey("127.96.1.2", 8081): Route("restaurant", "orders", "http"),
        ListenerKey("127.96.1.2", 9090): Route("restaurant", "orders", "metrics"),
    }
    assert plan.conflicts == ()


def test_node_port_and_load_balancer_also_listen_on_the_node_ip() -> None:
    for type_ in ("NodePort", "LoadBalancer"):
        service = svc(
            "gateway", "10.96.0.9", ServicePortInfo(port=8080, node_port=30080), type_=type_
        )
        assert plan_listeners([service], NODE_IP).routes == {
            ListenerKey("127.96.0.9", 8080): Route("restaurant", "gateway", 8080),
            ListenerKey(NODE_IP, 30080): Route("restaurant", "gateway", 8080),
        }


def test_a_cluster_ip_service_ignores_a_stale_node_port() -> None:
    service = svc("gateway", "10.96.0.9", ServicePortInfo(port=8080, node_port=30080))
    assert set(plan_listeners([service], NODE_IP).routes) == {ListenerKey("127.96.0.9", 8080)}


def test_services_that_get_no_listener() -> None:
    port = ServicePortInfo(port=80)
    services = [
        svc("headless", "None", port),
        svc("unallocated", None, port),
        svc("empty-ip", "", port),
        svc("ipv6", "fd00::1", port),
        svc("no-selector", "10.96.0.3", port, selector={}),
        svc("external", "10.96.0.4", port, type_="ExternalName"),
        svc("no-ports", "10.96.0.5"),
    ]
    assert plan_listeners(services, NODE_IP).routes == {}


def test_an_address_wanted_twice_goes_to_the_first_service_by_namespace_and_name() -> None:
    # ClusterIP 10.0.0.1's twin is 127.0.0.1, the node IP, where NodePorts live too
    first = svc("a", "10.0.0.1", ServicePortInfo(port=30080), namespace="alpha")
    second = svc(
        "b",
        "10.0.0.9",
        ServicePortInfo(port=80, node_port=30080),
        type_="NodePort",
        namespace="alpha",
    )
    plan = plan_listeners([second, first], NODE_IP)
    assert plan.routes == {
        ListenerKey(NODE_IP, 30080): Route("alpha", "a", 30080),
        ListenerKey("127.0.0.9", 80): Route("alpha", "b", 80),
    }
    assert len(plan.conflicts) == 1
    assert "127.0.0.1:30080" in plan.conflicts[0] and "alpha/b:80" in plan.conflicts[0]


def test_diff_opens_the_new_and_closes_the_gone_in_order() -> None:
    a, b, c, d = (ListenerKey("127.0.0.1", port) for port in (30080, 30081, 30082, 30083))
    diff = diff_listeners({d, b, a}, {c, a})
    assert diff.open == (b, d)
    assert diff.close == (c,)
    assert diff_listeners({a}, {a}).open == diff_listeners({a}, {a}).close == ()


def test_listener_key_prints_as_an_address() -> None:
    assert str(ListenerKey("127.96.0.1", 443)) == "127.96.0.1:443"
    assert str(Route("default", "kubernetes", "https")) == "default/kubernetes:https"
