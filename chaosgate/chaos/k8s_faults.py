"""Service-level faults on Kubernetes: the restaurant services' admin fault switches
(``PUT/DELETE /admin/faults``, refstack/CONTRACT.md) on every pod of a Deployment, called by
Chaos Toolkit as ``type: python`` activities (experiments/k8s/).

- ``set_pod_faults``: ``PUT /admin/faults`` with the experiment's ``faults`` object on every
  ready pod the label selector matches, at ``http://<podIP>:<port>``.
- ``clear_pod_faults``: ``DELETE /admin/faults`` on every matching pod that has an IP (ready or
  not: a fault may be what made it unready); a pod that went away meanwhile is fine.

Why every pod and not the Service: through the Service (its ClusterIP) one request reaches one
replica, so a Deployment of two would be half faulted and its alert might never fire. Why not
chaosk8s: it has no HTTP call to a pod; its exec actions would need ``pods/exec`` and a shell in
the image. The pods are listed the way ``k8s_actions`` reaches the cluster (chaosk8s' client
factory), which needs only ``list pods``.

Safety: this machine must never connect to private or public ranges, so outside a cluster
(``KUBERNETES_SERVICE_HOST`` unset) a pod IP outside 127.0.0.0/8 is refused before any request
is sent; inside a cluster (the runner's Job) pod IPs are what it must reach. The ``faults``
object is passed through as it is: the service validates it, and its 400 message is passed on.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from chaoslib.exceptions import ActivityFailed
from kubernetes import client

from chaosgate.chaos.k8s_api import api_client, list_pods, object_name
from chaosgate.chaos.local_faults import service_error_text
from chaosgate.http_clients import new_http_client

__all__ = [
    "ADMIN_FAULTS_PATH",
    "IN_CLUSTER_ENV",
    "clear_pod_faults",
    "set_pod_faults",
]

ADMIN_FAULTS_PATH = "/admin/faults"
IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"  # set by the kubelet in every pod
LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
_HTTP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class _PodAddress:
    pod: str
    ip: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"http://{host}:{self.port}{ADMIN_FAULTS_PATH}"


class _Unreachable(Exception):
    """The pod's address did not answer at all (connect error, timeout, reset)."""


def _ready(pod: client.V1Pod) -> bool:
    if pod.metadata is not None and pod.metadata.deletion_timestamp is not None:
        return False
    if pod.status is None or pod.status.phase != "Running" or not pod.status.pod_ip:
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def _pod_ip(pod: client.V1Pod) -> str | None:
    return str(pod.status.pod_ip) if pod.status is not None and pod.status.pod_ip else None


def _check_selector(label_selector: object, ns: str) -> str:
    if not isinstance(label_selector, str) or not label_selector.strip():
        raise ActivityFailed(
            f"label_selector {label_selector!r} would match every pod of namespace {ns!r}; "
            "give the Deployment's pod labels, e.g. 'app.kubernetes.io/name=orders'"
        )
    return label_selector


def _check_port(port: object) -> int | None:
    if port is None:
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ActivityFailed(
            f"port {port!r} is not a TCP port; give 1-65535, or leave it out to use the "
            "pod's first container port"
        )
    return port


def _container_port(pod: client.V1Pod) -> int:
    containers = (pod.spec.containers if pod.spec is not None else None) or []
    for container in containers:
        for container_port in container.ports or []:
            return int(container_port.container_port)
    raise ActivityFailed(
        f"pod {object_name(pod)!r} declares no container port; give the service's port as "
        "the activity's port argument"
    )


def _address(
    pod: client.V1Pod, ip: str, port: int | None, environ: Mapping[str, str]
) -> _PodAddress:
    """Where ``pod``'s admin endpoint is; refused unless loopback or inside a cluster."""
    name = object_name(pod)
    try:
        parsed = ipaddress.ip_address(ip)
    except ValueError:
        raise ActivityFailed(
            f"pod {name!r} has pod IP {ip!r}, which is not an IP address"
        ) from None
    if parsed not in LOOPBACK and not environ.get(IN_CLUSTER_ENV):
        raise ActivityFailed(
            f"refusing to connect to pod {name!r} at {ip!r}: outside a cluster only loopback "
            f"pod IPs ({LOOPBACK}, the local node's) are reached, never private or public "
            "ranges; run the experiment inside the cluster (the suite's runner Job), where "
            f"{IN_CLUSTER_ENV} is set"
        )
    return _PodAddress(pod=name, ip=ip, port=port if port is not None else _container_port(pod))


def _call(
    http: httpx.Client, method: str, address: _PodAddress, body: Mapping[str, Any] | None
) -> dict[str, Any]:
    """One request to a pod's admin endpoint: its JSON object, ``_Unreachable`` when nothing
    answered, ``ActivityFailed`` for any other answer."""
    where = f"{method} {address.url} (pod {address.pod!r})"
    try:
        response = http.request(method, address.url, json=body)
    except httpx.TransportError as exc:
        raise _Unreachable(f"{where} failed: {type(exc).__name__}: {exc}") from exc
    if response.status_code == 404:
        raise ActivityFailed(
            f"{where} answered 404: the admin fault endpoint is off on that pod; its "
            "Deployment needs the variable CHAOSGATE_ADMIN_FAULTS=1 (see "
            "manifests/overlays/local/admin-faults.yaml), or the port is not the service's"
        )
    if not 200 <= response.status_code < 300:
        raise ActivityFailed(
            f"{where} answered HTTP {response.status_code}: {service_error_text(response)}"
        )
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise ActivityFailed(f"{where} answered {response.text[:300]!r}, not a JSON object")
    return payload


def _http(http: httpx.Client | None, timeout_s: float) -> httpx.Client:
    # trust_env=False: a pod IP is reached directly, never through the shell's HTTP proxy
    return http if http is not None else new_http_client(timeout_s, trust_env=False)


def set_pod_faults(
    label_selector: str,
    ns: str,
    faults: dict[str, Any],
    port: int | None = None,
    timeout_s: float = _HTTP_TIMEOUT_S,
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
    http: httpx.Client | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``PUT /admin/faults`` with ``faults`` on every ready pod ``label_selector`` matches in
    ``ns``, at its pod IP and ``port`` (None: the pod's first container port).

    Returns, per pod, the settings it answered with (what is set now) and the matching pods that
    were not ready (not serving, so not faulted). Fails when no pod is ready, before any request
    when a pod's IP may not be reached (see the module's docstring), and after trying every pod
    when one of them did not take the fault (naming the ones that did: the rollback's
    ``clear_pod_faults`` clears them). ``api``, ``http`` and ``environ`` are for tests.
    """
    selector = _check_selector(label_selector, ns)
    wanted_port = _check_port(port)
    if not isinstance(faults, dict) or not faults:
        raise ActivityFailed(
            f"faults {faults!r} is not a fault to set; give a JSON object of the services' "
            'fault settings, e.g. {"error_ratio": 0.5, "route_prefix": "/api"}'
        )
    env = os.environ if environ is None else environ
    v1 = client.CoreV1Api(api_client(api, secrets))
    pods = list_pods(v1, ns, selector)
    ready = [pod for pod in pods if _ready(pod)]
    not_ready = [object_name(pod) for pod in pods if not _ready(pod)]
    if not ready:
        found = f"matching, none ready: {', '.join(not_ready)}" if not_ready else "none matches"
        raise ActivityFailed(
            f"no ready pod {selector!r} in namespace {ns!r} to fault ({found}); check "
            f"kubectl -n {ns} get pods -l {selector}"
        )
    addresses = [_address(pod, str(_pod_ip(pod)), wanted_port, env) for pod in ready]
    http_client = _http(http, timeout_s)
    done: list[dict[str, Any]] = []
    failed: list[str] = []
    try:
        for address in addresses:
            try:
                answer = _call(http_client, "PUT", address, faults)
            except (_Unreachable, ActivityFailed) as exc:
                failed.append(str(exc))
                continue
            done.append({"pod": address.pod, "url": address.url, "faults": answer})
    finally:
        if http is None:
            http_client.close()
    if failed:
        taken = ", ".join(item["pod"] for item in done) or "none"
        raise ActivityFailed(
            f"faults {faults} not set on every ready pod {selector!r} in {ns!r}: "
            f"{'; '.join(failed)} (set on: {taken}; clear_pod_faults clears them)"
        )
    return {
        "namespace": ns,
        "label_selector": selector,
        "requested": dict(faults),
        "pods": done,
        "not_ready": not_ready,
    }


def _gone_why(name: str, ip: str, now: list[client.V1Pod]) -> str | None:
    """Why pod ``name`` (once at ``ip``) no longer holds faults, or None if it is still there."""
    same = [pod for pod in now if object_name(pod) == name]
    if not same:
        return "deleted"
    pod = same[0]
    if pod.metadata is not None and pod.metadata.deletion_timestamp is not None:
        return "terminating"
    if _pod_ip(pod) != ip:
        return f"its pod IP is now {_pod_ip(pod)!r}"
    phase = pod.status.phase if pod.status is not None else None
    if phase != "Running":
        return f"it is {phase}"
    return None


def clear_pod_faults(
    label_selector: str,
    ns: str,
    port: int | None = None,
    timeout_s: float = _HTTP_TIMEOUT_S,
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
    http: httpx.Client | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """``DELETE /admin/faults`` (every fault off) on every pod ``label_selector`` matches in
    ``ns`` that has a pod IP, ready or not.

    A pod that does not answer is looked up again: one deleted, terminating, with a new IP or no
    longer running meanwhile is reported as gone (its faults went with its process), not an
    error; one still there is. Pods without an IP never served, so hold nothing. Returns, per
    pod, what is set now (every fault off).
    """
    selector = _check_selector(label_selector, ns)
    wanted_port = _check_port(port)
    env = os.environ if environ is None else environ
    v1 = client.CoreV1Api(api_client(api, secrets))
    pods = list_pods(v1, ns, selector)
    no_ip = [object_name(pod) for pod in pods if _pod_ip(pod) is None]
    addresses = [
        _address(pod, ip, wanted_port, env) for pod in pods if (ip := _pod_ip(pod)) is not None
    ]
    http_client = _http(http, timeout_s)
    cleared: list[dict[str, Any]] = []
    unreachable: dict[str, tuple[_PodAddress, str]] = {}
    failed: list[str] = []
    try:
        for address in addresses:
            try:
                answer = _call(http_client, "DELETE", address, None)
            except _Unreachable as exc:
                unreachable[address.pod] = (address, str(exc))
                continue
            except ActivityFailed as exc:
                failed.append(str(exc))
                continue
            cleared.append({"pod": address.pod, "url": address.url, "faults": answer})
    finally:
        if http is None:
            http_client.close()
    gone: list[dict[str, str]] = []
    if unreachable:
        now = list_pods(v1, ns, selector)
        for name, (address, why) in unreachable.items():
            reason = _gone_why(name, address.ip, now)
            if reason is None:
                failed.append(f"{why}; the pod is still running there")
            else:
                gone.append({"pod": name, "why": reason})
    if failed:
        done = ", ".join(item["pod"] for item in cleared) or "none"
        raise ActivityFailed(
            f"faults not cleared on every pod {selector!r} in {ns!r}: {'; '.join(failed)} "
            f"(cleared on: {done}); clear them by hand with DELETE {ADMIN_FAULTS_PATH} on "
            "each pod's IP and port"
        )
    return {
        "namespace": ns,
        "label_selector": selector,
        "pods": cleared,
        "gone": gone,
        "no_ip": no_ip,
    }
