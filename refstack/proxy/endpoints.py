"""Which pods serve a Service port: what the endpoint controllers would publish, computed here.

The API server refuses loopback addresses in Endpoints and EndpointSlices, so the proxy cannot
read them; it applies the same rules to the pods it watches instead:

- the pod is in the Service's namespace and its labels match the Service's selector;
- it has a pod IP (only loopback addresses: nothing here may connect elsewhere);
- its Ready condition is True (unless the Service publishes not-ready addresses) and it is not
  terminating (no deletionTimestamp, phase neither Succeeded nor Failed);
- the target port is ``targetPort`` when it is a number, the pod's TCP container port of that
  name when it is a name (a pod without that name serves nothing on this port), else ``port``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from refstack.proxy.model import PodInfo, PortKey, ServiceInfo, ServicePortInfo

__all__ = ["Endpoint", "endpoints_for", "selector_matches"]

Endpoint = tuple[str, int]  # (pod IP, port)


def selector_matches(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """True when every ``key: value`` of a non-empty ``selector`` is among ``labels``."""
    return bool(selector) and all(labels.get(key) == value for key, value in selector.items())


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def _target(port: ServicePortInfo, pod: PodInfo) -> int | None:
    target = port.target_port
    if target is None or target == 0 or target == "":
        return port.port
    if isinstance(target, int):
        return target
    return pod.named_ports.get(target)


def _serves(service: ServiceInfo, pod: PodInfo) -> bool:
    return (
        pod.namespace == service.namespace
        and pod.ip is not None
        and not pod.terminating
        and (pod.ready or service.publish_not_ready)
        and selector_matches(service.selector, pod.labels)
        and _is_loopback(pod.ip)
    )


def _order(endpoint: Endpoint) -> tuple[int, int]:
    return int(ipaddress.ip_address(endpoint[0])), endpoint[1]


def endpoints_for(service: ServiceInfo, pods: Iterable[PodInfo]) -> dict[PortKey, list[Endpoint]]:
    """Each TCP port of ``service`` (by name, or number when unnamed) -> its endpoints, sorted.

    A Service without a selector gets no entries (its endpoints are managed by someone
    else, and cannot be loopback anyway); a port without ready pods maps to ``[]``.
    """
    tcp_ports = [port for port in service.ports if port.protocol == "TCP"]
    if not service.selector or not tcp_ports:
        return {}
    serving = [pod for pod in pods if _serves(service, pod)]
    result: dict[PortKey, list[Endpoint]] = {}
    for port in tcp_ports:
        found: set[Endpoint] = set()
        for pod in serving:
            target = _target(port, pod)
            if target is not None and pod.ip is not None:
                found.add((pod.ip, target))
        result[port.key] = sorted(found, key=_order)
    return result
