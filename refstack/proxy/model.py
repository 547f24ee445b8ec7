"""What the proxy keeps of Services and Pods: small frozen views of the API objects.

The watch threads turn each ``V1Service`` / ``V1Pod`` into these views as it arrives, so the
event loop only handles a few plain fields and the pure functions (endpoints, listeners) are
easy to test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubernetes.client import V1Pod, V1Service

__all__ = [
    "PodInfo",
    "PortKey",
    "ServiceInfo",
    "ServicePortInfo",
    "pod_info",
    "service_info",
]

# a Service port is known by its name, or by its number when it has none (single-port Services)
PortKey = str | int

_TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})


@dataclass(frozen=True)
class ServicePortInfo:
    port: int
    name: str = ""
    protocol: str = "TCP"
    target_port: int | str | None = None  # None: same as ``port``; str: a named container port
    node_port: int | None = None

    @property
    def key(self) -> PortKey:
        return self.name or self.port


@dataclass(frozen=True)
class ServiceInfo:
    namespace: str
    name: str
    cluster_ip: str | None = None  # None, "" and "None" all mean headless / not allocated
    type: str = "ClusterIP"
    selector: Mapping[str, str] = field(default_factory=dict)
    ports: tuple[ServicePortInfo, ...] = ()
    publish_not_ready: bool = False

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class PodInfo:
    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None
    ready: bool = False
    terminating: bool = False  # deletionTimestamp set, or phase Succeeded/Failed
    named_ports: Mapping[str, int] = field(default_factory=dict)  # TCP container ports by name

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


def service_info(service: V1Service) -> ServiceInfo:
    """The proxy's view of ``service``."""
    meta = service.metadata
    spec = service.spec
    ports: list[ServicePortInfo] = []
    if spec is not None:
        for port in spec.ports or ():
            ports.append(
                ServicePortInfo(
                    port=port.port,
                    name=port.name or "",
                    protocol=port.protocol or "TCP",
                    target_port=port.target_port,
                    node_port=port.node_port,
                )
            )
    return ServiceInfo(
        namespace=(meta.namespace if meta else None) or "",
        name=(meta.name if meta else None) or "",
        cluster_ip=spec.cluster_ip if spec else None,
        type=(spec.type if spec else None) or "ClusterIP",
        selector=dict(spec.selector or {}) if spec else {},
        ports=tuple(ports),
        publish_not_ready=bool(spec and spec.publish_not_ready_addresses),
    )


def pod_info(pod: V1Pod) -> PodInfo:
    """The proxy's view of ``pod``."""
    meta = pod.metadata
    status = pod.status
    ready = any(
        condition.type == "Ready" and condition.status == "True"
        for condition in (status.conditions if status else None) or ()
    )
    named: dict[str, int] = {}
    for container in (pod.spec.containers if pod.spec else None) or ():
        for port in container.ports or ():
            if port.name and (port.protocol or "TCP") == "TCP":
                named.setdefault(port.name, port.container_port)
    phase = status.phase if status else None
    return PodInfo(
        namespace=(meta.namespace if meta else None) or "",
        name=(meta.name if meta else None) or "",
        labels=dict((meta.labels if meta else None) or {}),
        ip=(status.pod_ip if status else None) or None,
        ready=ready,
        terminating=bool(meta and meta.deletion_timestamp) or phase in _TERMINAL_PHASES,
        named_ports=named,
    )
