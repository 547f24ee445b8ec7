"""What chaosgate's Kubernetes activities share: the API client (chaosk8s' factory unless one is
handed in), reading a Service, names and API error messages, label selectors."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chaosk8s import create_k8s_api_client
from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from kubernetes.client import ApiException

__all__ = [
    "Sleep",
    "api_client",
    "api_reason",
    "list_pods",
    "object_name",
    "read_service",
    "selector_string",
]

Sleep = Callable[[float], None]


def api_client(api: client.ApiClient | None, secrets: Mapping[str, Any] | None) -> client.ApiClient:
    """``api`` itself, or chaosk8s' client (``KUBECONFIG``, ``KUBERNETES_CONTEXT``, in-cluster),
    so these activities reach the same cluster as the chaosk8s ones beside them."""
    return api if api is not None else create_k8s_api_client(secrets)


def api_reason(exc: ApiException) -> str:
    """The API server's own message (its Status body), else the HTTP reason."""
    try:
        body = json.loads(exc.body) if exc.body else {}
    except (TypeError, ValueError):
        body = {}
    message = body.get("message") if isinstance(body, dict) else None
    return f"{exc.status} {message or exc.reason}"


def object_name(obj: client.V1Pod | client.V1Service) -> str:
    return str(obj.metadata.name) if obj.metadata is not None else "?"


def selector_string(selector: Mapping[str, str]) -> str:
    """``{"a": "1", "b": "2"}`` -> ``a=1,b=2`` (a label selector matching every pair)."""
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))


def read_service(v1: client.CoreV1Api, name: str, ns: str) -> client.V1Service:
    try:
        return v1.read_namespaced_service(name, ns)
    except ApiException as exc:
        raise ActivityFailed(f"cannot read Service {name!r} in {ns!r}: {api_reason(exc)}") from None


def list_pods(v1: client.CoreV1Api, ns: str, label_selector: str) -> list[client.V1Pod]:
    """The pods of ``ns`` matching ``label_selector``; ActivityFailed saying why not."""
    try:
        return list(v1.list_namespaced_pod(ns, label_selector=label_selector).items)
    except ApiException as exc:
        raise ActivityFailed(
            f"cannot list pods {label_selector!r} in namespace {ns!r}: {api_reason(exc)}"
        ) from None
