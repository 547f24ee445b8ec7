"""The built-in targets: ``local`` (the local stack, all defaults) and ``local-k8s`` (the same
stack run by ``chaosgate stack up --k8s``: the gateway's NodePort, the stack's admin
kubeconfig, Kubernetes chaos)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaosgate.target_models import (
    DEFAULT_LOCAL_PORTS,
    AlertmanagerConfig,
    ElasticsearchConfig,
    JaegerConfig,
    KubernetesConfig,
    PrometheusConfig,
    SinkConfig,
    SpanStoreConfig,
    Target,
    TargetError,
    local_url,
)
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import DEFAULT_PORTS

__all__ = [
    "BUILTIN_K8S_SOURCE",
    "BUILTIN_SOURCE",
    "BUILTIN_TARGETS",
    "DEFAULT_LOCAL_K8S_PORTS",
    "LOCAL_NODE_NAME",
    "local_k8s_kubeconfig",
    "local_k8s_target",
    "local_target",
]

DEFAULT_LOCAL_K8S_PORTS: Mapping[str, int] = {
    name: DEFAULT_PORTS[name]
    for name in (
        "gateway_nodeport",
        "jaeger_query",
        "store",
        "prometheus",
        "alertmanager",
        "sink",
    )
}
"""The ports ``local-k8s`` points at: the gateway through its Service's NodePort."""

BUILTIN_SOURCE = "built-in target 'local'"
BUILTIN_K8S_SOURCE = "built-in target 'local-k8s'"
BUILTIN_TARGETS = ("local", "local-k8s")
LOCAL_NODE_NAME = "chaosgate-local"  # the node `stack up --k8s` registers (its node config)


def _merged_ports(
    defaults: Mapping[str, int], ports: Mapping[str, int] | None, source: str
) -> dict[str, int]:
    merged = dict(defaults)
    for name in defaults:
        if ports is None or name not in ports:
            continue
        port = ports[name]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise TargetError(
                f"{source}: ports.{name}: {port!r} is not a port number; "
                "give an integer from 1 to 65535"
            )
        merged[name] = port
    return merged


def _observability(ports: Mapping[str, int]) -> dict[str, Any]:
    return {
        "jaeger": JaegerConfig(
            query_url=local_url("jaeger_query", ports),
            span_store=SpanStoreConfig(url=local_url("store", ports)),
        ),
        "elasticsearch": ElasticsearchConfig(url=local_url("store", ports)),
        "prometheus": PrometheusConfig(url=local_url("prometheus", ports)),
        "alertmanager": AlertmanagerConfig(url=local_url("alertmanager", ports)),
        "sink": SinkConfig(url=local_url("sink", ports)),
    }


def local_target(ports: Mapping[str, int] | None = None) -> Target:
    """The built-in target ``local`` on loopback; ``ports`` overrides DEFAULT_LOCAL_PORTS.

    Names other than those of DEFAULT_LOCAL_PORTS are ignored, so the stack's whole port table
    can be passed as it is.
    """
    merged = _merged_ports(DEFAULT_LOCAL_PORTS, ports, BUILTIN_SOURCE)
    return Target(
        name="local",
        gateway_url=local_url("gateway", merged),
        chaos="local",
        **_observability(merged),
    )


def local_k8s_kubeconfig(env: Mapping[str, str]) -> Path:
    """The admin kubeconfig ``stack up --k8s`` writes: ``<state dir>/k8s/admin.kubeconfig``
    (the state dir follows ``CHAOSGATE_STACK_DIR``, see :class:`StackLayout`)."""
    return StackLayout.from_env(env).state_dir / "k8s" / "admin.kubeconfig"


def local_k8s_target(
    ports: Mapping[str, int] | None = None, *, env: Mapping[str, str] | None = None
) -> Target:
    """The built-in target ``local-k8s``: the local stack with the restaurant services as
    Deployments (``chaosgate stack up --k8s``).

    Its gateway is the gateway Service's NodePort (``gateway_nodeport``), the observability
    endpoints are ``local``'s, and chaos is Kubernetes chaos through the stack's admin
    kubeconfig (:func:`local_k8s_kubeconfig` of ``env``) on namespace ``restaurant``, stress
    pods pinned to the local node. ``ports`` overrides DEFAULT_LOCAL_K8S_PORTS (other names are
    ignored).
    """
    merged = _merged_ports(DEFAULT_LOCAL_K8S_PORTS, ports, BUILTIN_K8S_SOURCE)
    return Target(
        name="local-k8s",
        gateway_url=local_url("gateway_nodeport", merged),
        kubernetes=KubernetesConfig(
            kubeconfig=str(local_k8s_kubeconfig(env or {})),
            namespaces=("restaurant",),
            stress_node=LOCAL_NODE_NAME,
        ),
        chaos="kubernetes",
        **_observability(merged),
    )
