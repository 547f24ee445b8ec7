"""Kubernetes probes chaosk8s does not have, called by Chaos Toolkit as ``type: python``
activities (experiments/k8s/); they reach the cluster the way ``k8s_actions`` does.

- ``pods_gone``: wait until no pod matches a selector (terminating ones count as still there):
  the rollback step that proves a stress pod is really gone. chaosk8s' ``pod_is_not_available``
  only looks once and ignores pods that are not Running.
- ``service_has_ready_pods``: the Service selects at least N ready pods, i.e. its clients can
  reach it. On the local cluster Endpoints cannot hold loopback pod addresses (the API server
  refuses them), so this follows the selector to the pods, as the local service proxy does.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from chaoslib.exceptions import ActivityFailed
from kubernetes import client

from chaosgate.chaos.k8s_actions import ORIGINAL_SELECTOR_ANNOTATION
from chaosgate.chaos.k8s_api import (
    Sleep,
    api_client,
    object_name,
    read_service,
    selector_string,
)
from chaosgate.vocabulary import Clock

__all__ = ["pods_gone", "service_has_ready_pods"]


def _ready(pod: client.V1Pod) -> bool:
    if pod.metadata is not None and pod.metadata.deletion_timestamp is not None:
        return False
    conditions = (pod.status.conditions if pod.status is not None else None) or []
    return any(c.type == "Ready" and c.status == "True" for c in conditions)


def pods_gone(
    label_selector: str,
    ns: str = "restaurant",
    timeout_s: float = 60.0,
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> dict[str, Any]:
    """Wait until no pod in ``ns`` matches ``label_selector``; fails naming the pods still
    there after ``timeout_s``."""
    if not label_selector.strip():
        raise ActivityFailed(
            "pods_gone needs a label_selector; an empty one would wait for every pod of "
            f"namespace {ns!r} to go"
        )
    v1 = client.CoreV1Api(api_client(api, secrets))
    started = clock()
    while True:
        pods = v1.list_namespaced_pod(ns, label_selector=label_selector).items
        if not pods:
            return {
                "namespace": ns,
                "label_selector": label_selector,
                "waited_s": clock() - started,
            }
        if clock() - started >= timeout_s:
            left = ", ".join(
                f"{object_name(pod)} ({pod.status.phase if pod.status else '?'}"
                f"{', terminating' if pod.metadata and pod.metadata.deletion_timestamp else ''})"
                for pod in pods
            )
            raise ActivityFailed(
                f"pods {label_selector!r} in {ns!r} still there after {timeout_s:g} s: {left}; "
                f"see kubectl -n {ns} describe pods -l {label_selector}"
            )
        sleep(0.5)


def service_has_ready_pods(
    name: str,
    ns: str = "restaurant",
    min_ready: int = 1,
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
) -> bool:
    """True when Service ``name`` selects at least ``min_ready`` ready pods (not terminating);
    fails saying how many it selects, or that it is detached (``k8s_actions.detach_service``)."""
    v1 = client.CoreV1Api(api_client(api, secrets))
    service = read_service(v1, name, ns)
    annotations = (service.metadata.annotations if service.metadata is not None else None) or {}
    if ORIGINAL_SELECTOR_ANNOTATION in annotations:
        raise ActivityFailed(
            f"Service {name!r} in {ns!r} is detached from its pods (annotation "
            f"{ORIGINAL_SELECTOR_ANNOTATION}); reattach_service gives its selector back"
        )
    selector = (service.spec.selector if service.spec is not None else None) or {}
    if not selector:
        raise ActivityFailed(f"Service {name!r} in {ns!r} has no selector; it selects no pod")
    pods = v1.list_namespaced_pod(ns, label_selector=selector_string(selector)).items
    ready = sum(1 for pod in pods if _ready(pod))
    if ready < min_ready:
        raise ActivityFailed(
            f"Service {name!r} in {ns!r} selects {ready} ready pod(s) of {len(pods)} "
            f"(selector {selector_string(selector)}); expected at least {min_ready}"
        )
    return True
