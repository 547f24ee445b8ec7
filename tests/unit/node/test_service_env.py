"""The service variables a pod gets: the kubelet's names, loopback addresses."""

from __future__ import annotations

from typing import Any

from refstack.service_env import env_name, service_env


def _service(name: str, cluster_ip: str | None, *ports: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"clusterIP": cluster_ip, "ports": list(ports)}}


def _env(services: list[dict[str, Any]], links: bool = True) -> dict[str, str]:
    return service_env(
        services, apiserver_host="127.0.0.1", apiserver_port=6443, enable_service_links=links
    )


def test_a_service_with_named_ports_gets_host_port_and_link_variables() -> None:
    orders = _service(
        "order-db",
        "10.96.3.4",
        {"name": "http", "port": 8081, "protocol": "TCP"},
        {"name": "metrics-port", "port": 9000},
    )
    env = _env([orders])
    assert env["ORDER_DB_SERVICE_HOST"] == "127.96.3.4"
    assert env["ORDER_DB_SERVICE_PORT"] == "8081"
    assert env["ORDER_DB_SERVICE_PORT_HTTP"] == "8081"
    assert env["ORDER_DB_SERVICE_PORT_METRICS_PORT"] == "9000"
    assert env["ORDER_DB_PORT"] == "tcp://127.96.3.4:8081"
    assert env["ORDER_DB_PORT_9000_TCP"] == "tcp://127.96.3.4:9000"
    assert env["ORDER_DB_PORT_8081_TCP_PROTO"] == "tcp"
    assert env["ORDER_DB_PORT_8081_TCP_PORT"] == "8081"
    assert env["ORDER_DB_PORT_8081_TCP_ADDR"] == "127.96.3.4"


def test_the_api_server_is_always_there_on_loopback() -> None:
    env = service_env([], apiserver_host="127.0.0.1", apiserver_port=17443)
    assert env == {
        "KUBERNETES_PORT": "tcp://127.0.0.1:17443",
        "KUBERNETES_PORT_17443_TCP": "tcp://127.0.0.1:17443",
        "KUBERNETES_PORT_17443_TCP_ADDR": "127.0.0.1",
        "KUBERNETES_PORT_17443_TCP_PORT": "17443",
        "KUBERNETES_PORT_17443_TCP_PROTO": "tcp",
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": "17443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "17443",
    }


def test_a_kubernetes_service_in_the_list_does_not_replace_the_api_server() -> None:
    env = _env([_service("kubernetes", "10.96.0.1", {"name": "https", "port": 443})])
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert env["KUBERNETES_SERVICE_PORT"] == "6443"
    assert "KUBERNETES_PORT_443_TCP" not in env


def test_headless_and_external_name_services_give_nothing() -> None:
    headless = _service("db", "None", {"port": 5432})
    external = {"metadata": {"name": "ext"}, "spec": {"type": "ExternalName", "ports": []}}
    env = _env([headless, external])
    assert not [k for k in env if k.startswith(("DB_", "EXT_"))]


def test_udp_ports_and_a_service_without_ports() -> None:
    env = _env(
        [
            _service("dns", "10.96.0.10", {"port": 53, "protocol": "UDP"}),
            _service("bare", "10.1.2.3"),
        ]
    )
    assert env["DNS_PORT"] == "udp://127.96.0.10:53"
    assert env["DNS_PORT_53_UDP_PROTO"] == "udp"
    assert "DNS_SERVICE_PORT_" not in " ".join(env)  # unnamed port: no per-name variable
    assert env["BARE_SERVICE_HOST"] == "127.1.2.3"
    assert "BARE_SERVICE_PORT" not in env


def test_enable_service_links_false_keeps_only_the_api_server() -> None:
    env = _env([_service("gateway", "10.96.0.20", {"port": 8080})], links=False)
    assert "GATEWAY_SERVICE_HOST" not in env
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"


def test_names_are_upper_case_with_underscores() -> None:
    assert env_name("my-svc-2") == "MY_SVC_2"


def test_the_result_is_sorted() -> None:
    env = _env([_service("zz", "10.0.0.9", {"port": 1}), _service("aa", "10.0.0.8")])
    assert list(env) == sorted(env)
