from __future__ import annotations

from refstack.proxy.endpoints import endpoints_for, selector_matches
from refstack.proxy.model import PodInfo, ServiceInfo, ServicePortInfo

APP = {"app.kubernetes.io/name": "orders"}


def service(
    *ports: ServicePortInfo,
    selector: dict[str, str] | None = None,
    namespace: str = "restaurant",
    publish_not_ready: bool = False,
) -> ServiceInfo:
    return ServiceInfo(
        namespace=namespace,
        name="orders",
        cluster_ip="10.96.0.20",
        selector=APP if selector is None else selector,
        ports=ports or (ServicePortInfo(port=8081, name="http", target_port=8081),),
        publish_not_ready=publish_not_ready,
    )


def pod(
    name: str,
    ip: str | None,
    *,
    ready: bool = True,
    labels: dict[str, str] | None = None,
    namespace: str = "restaurant",
    terminating: bool = False,
    named_ports: dict[str, int] | None = None,
) -> PodInfo:
    return PodInfo(
        namespace=namespace,
        name=name,
        labels={**APP, "pod-template-hash": "abc"} if labels is None else labels,
        ip=ip,
        ready=ready,
        terminating=terminating,
        named_ports=named_ports or {},
    )


def test_ready_matching_pods_are_endpoints_at_the_target_port() -> None:
    found = endpoints_for(service(), [pod("a", "127.1.0.2"), pod("b", "127.1.0.3")])
    assert found == {"http": [("127.1.0.2", 8081), ("127.1.0.3", 8081)]}


def test_pods_that_must_not_receive_traffic_are_left_out() -> None:
    pods = [
        pod("ok", "127.1.0.2"),
        pod("not-ready", "127.1.0.3", ready=False),
        pod("terminating", "127.1.0.4", terminating=True),
        pod("no-ip", None),
        pod("other-namespace", "127.1.0.5", namespace="default"),
        pod("other-app", "127.1.0.6", labels={"app.kubernetes.io/name": "users"}),
        pod("no-labels", "127.1.0.7", labels={}),
        pod("not-loopback", "10.244.0.8"),
        pod("bad-ip", "not-an-ip"),
    ]
    assert endpoints_for(service(), pods) == {"http": [("127.1.0.2", 8081)]}


def test_publish_not_ready_addresses_includes_unready_but_not_terminating_pods() -> None:
    pods = [
        pod("a", "127.1.0.2", ready=False),
        pod("b", "127.1.0.3", ready=False, terminating=True),
    ]
    found = endpoints_for(service(publish_not_ready=True), pods)
    assert found == {"http": [("127.1.0.2", 8081)]}


def test_no_ready_pod_gives_an_empty_list_for_each_port() -> None:
    ports = (ServicePortInfo(port=80, name="http"), ServicePortInfo(port=9090, name="metrics"))
    found = endpoints_for(service(*ports), [pod("a", "127.1.0.2", ready=False)])
    assert found == {"http": [], "metrics": []}


def test_a_service_without_selector_has_no_endpoints_at_all() -> None:
    assert endpoints_for(service(selector={}), [pod("a", "127.1.0.2")]) == {}


def test_selector_changed_to_match_nothing_empties_the_endpoints() -> None:
    patched = service(selector={"app.kubernetes.io/name": "nobody"})
    assert endpoints_for(patched, [pod("a", "127.1.0.2")]) == {"http": []}


def test_every_selector_label_must_match_and_extra_pod_labels_do_not_matter() -> None:
    selector = {"app": "orders", "tier": "backend"}
    pods = [
        pod("both", "127.1.0.2", labels={"app": "orders", "tier": "backend", "x": "y"}),
        pod("one", "127.1.0.3", labels={"app": "orders"}),
        pod("wrong-value", "127.1.0.4", labels={"app": "orders", "tier": "frontend"}),
    ]
    assert endpoints_for(service(selector=selector), pods) == {"http": [("127.1.0.2", 8081)]}


def test_unset_target_port_means_the_service_port() -> None:
    found = endpoints_for(service(ServicePortInfo(port=8082)), [pod("a", "127.1.0.2")])
    assert found == {8082: [("127.1.0.2", 8082)]}


def test_numeric_target_port_is_used_as_is() -> None:
    found = endpoints_for(
        service(ServicePortInfo(port=80, target_port=8080)), [pod("a", "127.1.0.2")]
    )
    assert found == {80: [("127.1.0.2", 8080)]}


def test_named_target_port_is_resolved_per_pod_and_pods_without_it_are_skipped() -> None:
    ports = (
        ServicePortInfo(port=80, name="http", target_port="web"),
        ServicePortInfo(port=9000, name="raw", target_port=9000),
    )
    pods = [
        pod("new", "127.1.0.2", named_ports={"web": 8080}),
        pod("old", "127.1.0.3", named_ports={"web": 8000}),
        pod("unnamed", "127.1.0.4"),
    ]
    found = endpoints_for(service(*ports), pods)
    assert found == {
        "http": [("127.1.0.2", 8080), ("127.1.0.3", 8000)],
        "raw": [("127.1.0.2", 9000), ("127.1.0.3", 9000), ("127.1.0.4", 9000)],
    }


def test_a_numeric_looking_target_port_name_is_still_a_name() -> None:
    port = ServicePortInfo(port=80, name="http", target_port="8080")
    pods = [pod("a", "127.1.0.2"), pod("b", "127.1.0.3", named_ports={"8080": 7000})]
    assert endpoints_for(service(port), pods) == {"http": [("127.1.0.3", 7000)]}


def test_only_tcp_ports_are_proxied() -> None:
    ports = (
        ServicePortInfo(port=53, name="dns", protocol="UDP"),
        ServicePortInfo(port=80, name="http", protocol="TCP"),
    )
    assert endpoints_for(service(*ports), [pod("a", "127.1.0.2")]) == {"http": [("127.1.0.2", 80)]}
    udp_only = service(ServicePortInfo(port=53, name="dns", protocol="UDP"))
    assert endpoints_for(udp_only, [pod("a", "127.1.0.2")]) == {}


def test_endpoints_are_sorted_by_address_numerically() -> None:
    pods = [pod(str(n), f"127.1.0.{n}") for n in (10, 9, 100, 2)]
    found = endpoints_for(service(), pods)
    assert [ip for ip, _ in found["http"]] == [
        "127.1.0.2",
        "127.1.0.9",
        "127.1.0.10",
        "127.1.0.100",
    ]


def test_selector_matches_needs_a_non_empty_selector() -> None:
    assert selector_matches({"a": "1"}, {"a": "1", "b": "2"})
    assert not selector_matches({"a": "1"}, {"a": "2"})
    assert not selector_matches({}, {"a": "1"})
