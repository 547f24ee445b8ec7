"""The service environment a pod's containers get, as the kubelet injects it, on loopback.

For each Service of the pod's namespace that has a ClusterIP, a container sees
``<NAME>_SERVICE_HOST`` and ``<NAME>_SERVICE_PORT`` (the first port), one
``<NAME>_SERVICE_PORT_<PORTNAME>`` per named port, and the Docker-link variables
``<NAME>_PORT`` and ``<NAME>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]``. ``NAME`` is the
Service name upper-cased with ``-`` turned into ``_``.

Two local twists: the host is the Service's loopback address (``a.b.c.d`` -> ``127.b.c.d``,
served by the service proxy; a ClusterIP is never contacted), and ``KUBERNETES_SERVICE_*``
always names the API server itself on loopback (``apiserver_host``/``apiserver_port`` of the
node config) instead of the ``kubernetes`` Service's ClusterIP. ``enableServiceLinks: false``
drops every Service but ``kubernetes``, as it does in the kubelet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from refstack.node_config import service_loopback_ip

__all__ = ["env_name", "service_env"]

_MASTER_SERVICE = "kubernetes"


def env_name(name: str) -> str:
    """A Service or port name as it appears in a variable name: ``order-db`` -> ``ORDER_DB``."""
    return name.upper().replace("-", "_")


def _one_service(name: str, host: str, ports: list[Mapping[str, Any]]) -> dict[str, str]:
    prefix = env_name(name)
    env = {f"{prefix}_SERVICE_HOST": host}
    if not ports:
        return env
    env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{env_name(str(port['name']))}"] = str(port["port"])
    first_proto = str(ports[0].get("protocol") or "TCP").lower()
    env[f"{prefix}_PORT"] = f"{first_proto}://{host}:{ports[0]['port']}"
    for port in ports:
        proto = str(port.get("protocol") or "TCP")
        link = f"{prefix}_PORT_{port['port']}_{proto.upper()}"
        env[link] = f"{proto.lower()}://{host}:{port['port']}"
        env[f"{link}_PROTO"] = proto.lower()
        env[f"{link}_PORT"] = str(port["port"])
        env[f"{link}_ADDR"] = host
    return env


def service_env(
    services: Iterable[Mapping[str, Any]],
    *,
    apiserver_host: str,
    apiserver_port: int,
    enable_service_links: bool = True,
) -> dict[str, str]:
    """The service variables of a pod whose namespace holds ``services`` (API objects as dicts).

    Headless Services (``clusterIP: None``) and ExternalName Services (no ClusterIP) give no
    variables. The result is sorted by name, so it compares and prints stably.
    """
    env: dict[str, str] = {}
    if enable_service_links:
        for service in services:
            name = str(service.get("metadata", {}).get("name", ""))
            spec = service.get("spec") or {}
            host = service_loopback_ip(str(spec.get("clusterIP") or ""))
            if not name or host is None or name == _MASTER_SERVICE:
                continue
            env.update(_one_service(name, host, list(spec.get("ports") or [])))
    master_port = {"name": "https", "port": apiserver_port, "protocol": "TCP"}
    env.update(_one_service(_MASTER_SERVICE, apiserver_host, [master_port]))
    return dict(sorted(env.items()))
