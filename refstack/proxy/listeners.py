"""Which addresses the proxy should listen on, and what changes to get there (pure).

A Service with a selector and a ClusterIP ``a.b.c.d`` is served, for each TCP port, on
``127.b.c.d:port``; a NodePort or LoadBalancer Service also on ``node_ip:nodePort``. Headless
Services, Services without a selector and ExternalName Services get no listener.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from dataclasses import dataclass

from refstack.node_config import service_loopback_ip
from refstack.proxy.model import PortKey, ServiceInfo

__all__ = [
    "ListenerDiff",
    "ListenerKey",
    "ListenerPlan",
    "Route",
    "diff_listeners",
    "plan_listeners",
]

_NODE_PORT_TYPES = frozenset({"NodePort", "LoadBalancer"})


@dataclass(frozen=True, order=True)
class ListenerKey:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Route:
    """The Service port a listener forwards to."""

    namespace: str
    name: str
    port: PortKey

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}:{self.port}"


@dataclass(frozen=True)
class ListenerPlan:
    routes: dict[ListenerKey, Route]
    conflicts: tuple[str, ...] = ()  # one line per address wanted by two Service ports


@dataclass(frozen=True)
class ListenerDiff:
    open: tuple[ListenerKey, ...]
    close: tuple[ListenerKey, ...]


def _addresses(service: ServiceInfo, node_ip: str) -> list[tuple[ListenerKey, Route]]:
    if not service.selector or service.type == "ExternalName" or not service.cluster_ip:
        return []
    host = service_loopback_ip(service.cluster_ip)
    if host is None:  # "None" (headless) or not IPv4
        return []
    found: list[tuple[ListenerKey, Route]] = []
    for port in service.ports:
        if port.protocol != "TCP":
            continue
        route = Route(service.namespace, service.name, port.key)
        found.append((ListenerKey(host, port.port), route))
        if service.type in _NODE_PORT_TYPES and port.node_port:
            found.append((ListenerKey(node_ip, port.node_port), route))
    return found


def plan_listeners(services: Iterable[ServiceInfo], node_ip: str) -> ListenerPlan:
    """Every wanted listener and the Service port it serves.

    The API server allocates ClusterIPs and NodePorts uniquely, but a ClusterIP ``x.0.0.1``
    is served on ``127.0.0.1``, where NodePorts may live too; when two Service ports want
    one address, the Service first by namespace/name keeps it and the other is reported.
    """
    routes: dict[ListenerKey, Route] = {}
    conflicts: list[str] = []
    for service in sorted(services, key=lambda s: (s.namespace, s.name)):
        for key, route in _addresses(service, node_ip):
            if key in routes and routes[key] != route:
                conflicts.append(f"{key} is wanted by {routes[key]} and {route}; {route} skipped")
                continue
            routes[key] = route
    return ListenerPlan(routes=routes, conflicts=tuple(conflicts))


def diff_listeners(wanted: Set[ListenerKey], open_now: Set[ListenerKey]) -> ListenerDiff:
    """The listeners to open and to close (each sorted) to go from ``open_now`` to ``wanted``."""
    return ListenerDiff(
        open=tuple(sorted(wanted - open_now)),
        close=tuple(sorted(open_now - wanted)),
    )
