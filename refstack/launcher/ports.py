"""The local stack's loopback ports: defaults, overrides, and a check that they are free.

Overrides, later winning: ``CHAOSGATE_PORT_OFFSET=N`` shifts every default port by N (a second
stack beside the first), ``CHAOSGATE_PORT_<NAME>`` environment variables
(``CHAOSGATE_PORT_GATEWAY=18080``), and ``--port name=N`` on the command line.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable, Mapping

__all__ = [
    "DEFAULT_PORTS",
    "HOST",
    "K8S_PORT_NAMES",
    "PORT_OWNERS",
    "PortError",
    "find_taken_ports",
    "resolve_ports",
]

HOST = "127.0.0.1"

DEFAULT_PORTS: Mapping[str, int] = {
    "gateway": 8080,
    "orders": 8081,
    "users": 8082,
    "iot": 8083,
    "jaeger_query": 16686,
    "jaeger_query_grpc": 16685,
    "otlp_grpc": 4317,
    "otlp_http": 4318,
    "store": 9200,  # the store of logs and spans: OpenSearch or Elasticsearch (--logs)
    "store_transport": 9300,
    "prometheus": 9090,
    "alertmanager": 9093,
    "sink": 9095,
    "smtp": 9025,  # the sink's SMTP receiver (Alertmanager's email_configs)
    "node_exporter": 9100,
    # `stack up --k8s` only (K8S_PORT_NAMES)
    "etcd": 2379,
    "etcd_peer": 2380,
    "kube_apiserver": 6443,
    "kube_controller_manager": 10257,
    "kube_scheduler": 10259,
    "node_agent": 10248,
    "kubelet": 10250,  # the node agent's kubelet API (HTTPS: kubectl logs)
    "service_proxy": 10256,
    "gateway_nodeport": 30080,
}

K8S_PORT_NAMES: frozenset[str] = frozenset(
    {
        "etcd",
        "etcd_peer",
        "kube_apiserver",
        "kube_controller_manager",
        "kube_scheduler",
        "node_agent",
        "kubelet",
        "service_proxy",
        "gateway_nodeport",
    }
)
"""Ports only the Kubernetes stack listens on; the plain stack neither checks nor uses them."""

# which part of the stack listens on each port (for error messages and the status table)
PORT_OWNERS: Mapping[str, str] = {
    "gateway": "gateway",
    "orders": "orders",
    "users": "users",
    "iot": "iot",
    "jaeger_query": "jaeger",
    "jaeger_query_grpc": "jaeger",
    "otlp_grpc": "jaeger",
    "otlp_http": "jaeger",
    "store": "the log and span store (opensearch or elasticsearch)",
    "store_transport": "the log and span store (its transport port)",
    "prometheus": "prometheus",
    "alertmanager": "alertmanager",
    "sink": "sink",
    "smtp": "smtp",
    "node_exporter": "node-exporter",
    "etcd": "etcd",
    "etcd_peer": "etcd",
    "kube_apiserver": "kube-apiserver",
    "kube_controller_manager": "kube-controller-manager",
    "kube_scheduler": "kube-scheduler",
    "node_agent": "node-agent",
    "kubelet": "node-agent (its kubelet API, for kubectl logs)",
    "service_proxy": "service-proxy",
    "gateway_nodeport": "service-proxy (the gateway Service's NodePort)",
}


# names a port had before; an override that still uses one is told the new name
RENAMED_PORTS: Mapping[str, str] = {
    "opensearch": "store",
    "opensearch_transport": "store_transport",
}


class PortError(Exception):
    """A port override is malformed, or a port the stack needs is taken."""


def _renamed_hint(name: str) -> str:
    new = RENAMED_PORTS.get(name)
    return f" (port {name!r} is now called {new!r})" if new else ""


def _parse_port(text: str, source: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise PortError(
            f"{source}: {text!r} is not a port number; give an integer 1-65535"
        ) from None
    if not 1 <= port <= 65535:
        raise PortError(f"{source}: {text!r} is out of range; give an integer 1-65535")
    return port


def resolve_ports(env: Mapping[str, str], overrides: Iterable[str] = ()) -> dict[str, int]:
    """Default ports, shifted by ``CHAOSGATE_PORT_OFFSET``, then ``CHAOSGATE_PORT_<NAME>``
    from ``env``, then ``name=N`` overrides."""
    offset_text = env.get("CHAOSGATE_PORT_OFFSET", "0")
    try:
        offset = int(offset_text)
    except ValueError:
        raise PortError(
            f"environment variable CHAOSGATE_PORT_OFFSET: {offset_text!r} is not an integer"
        ) from None
    ports = {name: port + offset for name, port in DEFAULT_PORTS.items()}
    for name, port in ports.items():
        if not 1 <= port <= 65535:
            raise PortError(
                f"environment variable CHAOSGATE_PORT_OFFSET: {offset_text!r} moves port "
                f"{name} to {port}, out of range 1-65535"
            )
    for key, value in env.items():
        if not key.startswith("CHAOSGATE_PORT_") or key == "CHAOSGATE_PORT_OFFSET":
            continue
        name = key.removeprefix("CHAOSGATE_PORT_").lower()
        if name not in ports:
            raise PortError(
                f"environment variable {key}: unknown port {name!r}{_renamed_hint(name)}; "
                f"known ports are {', '.join(sorted(ports))}"
            )
        ports[name] = _parse_port(value, f"environment variable {key}")
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or name not in ports:
            raise PortError(
                f"--port {item!r}: expected NAME=PORT{_renamed_hint(name)} with NAME one of "
                f"{', '.join(sorted(ports))}"
            )
        ports[name] = _parse_port(value, f"--port {item!r}")
    seen: dict[int, str] = {}
    for name, port in ports.items():
        if port in seen:
            raise PortError(
                f"ports {seen[port]!r} and {name!r} are both set to {port}; give each its own port"
            )
        seen[port] = name
    return ports


def _is_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def find_taken_ports(ports: Mapping[str, int]) -> list[str]:
    """One message per port that something already listens on."""
    return [
        f"port {port} ({name}, used by {PORT_OWNERS.get(name, name)}) is already in use on {HOST}; "
        f"stop what holds it or move the stack's {name} port with CHAOSGATE_PORT_{name.upper()}"
        for name, port in ports.items()
        if _is_taken(port)
    ]
