"""This machine as a Node of the cluster: registration, status and heartbeat.

:func:`node_labels`, :func:`node_status` and :func:`machine_capacity` describe the node;
:class:`NodeHeartbeat` registers it (create or update), then every ``HEARTBEAT_S`` renews
the Lease ``kube-node-lease/<node>`` and refreshes the conditions' heartbeat times, which is
what keeps the controller-manager's node lifecycle controller from marking the node
``Unknown`` (and tainting it) once its grace period (40 s) has passed. After a heartbeat that
reported Ready it removes ``node.kubernetes.io/not-ready`` and ``.../unreachable`` taints
left from a time the node was not ready (the controller removes them too, on its own period).
Allocatable equals capacity: this node reserves nothing for itself. The status names the
node's address as ``InternalIP`` (``node_ip``) and its kubelet API port
(:mod:`.kubelet_api`, ``kubelet_port``) as ``daemonEndpoints.kubeletEndpoint.Port``, where
the API server sends ``pods/log`` requests.
"""

from __future__ import annotations

import logging
import os
import platform
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from chaosgate import __version__
from refstack.node.clock import Clock, rfc3339
from refstack.node.kubeapi import MERGE_PATCH, raw_json
from refstack.node_config import NodeConfig

__all__ = [
    "HEARTBEAT_S",
    "NodeHeartbeat",
    "machine_capacity",
    "node_info",
    "node_labels",
    "node_status",
]

_log = logging.getLogger(__name__)
HEARTBEAT_S = 10.0
LEASE_DURATION_S = 40
LEASE_NAMESPACE = "kube-node-lease"
_NOT_READY_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
}
_CONDITIONS = (
    (
        "MemoryPressure",
        "False",
        "KubeletHasSufficientMemory",
        "kubelet has sufficient memory available",
    ),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def architecture() -> str:
    machine = platform.machine()
    return _ARCH.get(machine, machine.lower())


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def machine_capacity(state_dir: Path, meminfo: str | None = None) -> dict[str, str]:
    """cpu (os.cpu_count), memory (MemTotal of /proc/meminfo), ephemeral-storage (the file
    system of ``state_dir``) and 110 pods, as Kubernetes quantities."""
    text = meminfo if meminfo is not None else _read("/proc/meminfo")
    memory_kib = 0
    for line in text.splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    state_dir.mkdir(parents=True, exist_ok=True)
    fs = os.statvfs(state_dir)
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory_kib}Ki",
        "ephemeral-storage": str(fs.f_blocks * fs.f_frsize),
        "pods": "110",
    }


def node_info(kubelet_version: str) -> dict[str, str]:
    machine_id = _read("/etc/machine-id")
    return {
        "machineID": machine_id,
        "systemUUID": _read("/sys/class/dmi/id/product_uuid") or machine_id,
        "bootID": _read("/proc/sys/kernel/random/boot_id"),
        "kernelVersion": platform.release(),
        "osImage": _os_image(),
        "containerRuntimeVersion": f"chaosgate-process://{__version__}",
        "kubeletVersion": kubelet_version,
        "kubeProxyVersion": "",
        "operatingSystem": "linux",
        "architecture": architecture(),
    }


def node_labels(config: NodeConfig) -> dict[str, str]:
    return {
        "kubernetes.io/hostname": config.node_name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": architecture(),
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": architecture(),
    }


def node_status(
    config: NodeConfig,
    *,
    capacity: Mapping[str, str],
    info: Mapping[str, str],
    now: datetime,
    previous: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The node's ``status``: a condition keeps its lastTransitionTime while its status holds."""
    before = {str(c.get("type")): c for c in previous or ()}
    stamp = rfc3339(now)
    conditions = []
    for kind, status, reason, message in _CONDITIONS:
        old = before.get(kind)
        since = old.get("lastTransitionTime") if old and old.get("status") == status else None
        conditions.append(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": since or stamp,
            }
        )
    return {
        "capacity": dict(capacity),
        "allocatable": dict(capacity),
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": config.node_ip},
            {"type": "Hostname", "address": config.node_name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": config.kubelet_port}},
        "nodeInfo": dict(info),
    }


class NodeHeartbeat:
    """Registers the node and keeps it alive; ``healthy`` tells /healthz how it goes."""

    def __init__(self, api_client: client.ApiClient, config: NodeConfig, clock: Clock) -> None:
        self._client = api_client
        self._core = client.CoreV1Api(api_client)
        self._leases = client.CoordinationV1Api(api_client)
        self._config = config
        self._clock = clock
        self.capacity = machine_capacity(config.state_dir)
        self._info: dict[str, str] | None = None
        self._node_uid: str | None = None
        self.registered = False
        self.last_ok = False
        self.last_error = "not registered yet"
        self._stop = threading.Event()

    @property
    def healthy(self) -> bool:
        return self.registered and self.last_ok

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Register, then beat every HEARTBEAT_S until stopped (errors are retried)."""
        while not self._stop.is_set():
            self.beat()
            self._stop.wait(HEARTBEAT_S if self.registered else 2.0)

    def beat(self) -> None:
        try:
            if not self.registered:
                self._register()
                self.registered = True
                _log.info("node %s registered", self._config.node_name)
            node = self._post_status()
            self._renew_lease()
            self._untaint(node)
        except Exception as exc:
            if isinstance(exc, ApiException) and exc.status == 404:
                self.registered = False  # the Node was deleted: register it again
            self.last_ok = False
            self.last_error = f"{type(exc).__name__}: {exc}"
            _log.warning("node heartbeat failed: %s", self.last_error)
            return
        self.last_ok = True
        self.last_error = ""

    def _register(self) -> None:
        if self._info is None:
            version = client.VersionApi(self._client).get_code(_request_timeout=10)
            self._info = node_info(version.git_version)
        name = self._config.node_name
        labels = node_labels(self._config)
        try:
            node = self._core.read_node(name, _request_timeout=10)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = client.V1Node.from_dict(
                {"metadata": {"name": name, "labels": labels}, "spec": {}}
            )
            assert body is not None
            node = self._core.create_node(body, _request_timeout=10)
        else:
            self._core.patch_node(
                name,
                {"metadata": {"labels": labels}},
                _content_type=MERGE_PATCH,
                _request_timeout=10,
            )
        assert node.metadata is not None
        self._node_uid = node.metadata.uid

    def _post_status(self) -> dict[str, Any]:
        """Write the status; returns the node as it was before."""
        assert self._info is not None
        current = raw_json(
            self._core.read_node(
                self._config.node_name, _request_timeout=10, _preload_content=False
            )
        )
        status = node_status(
            self._config,
            capacity=self.capacity,
            info=self._info,
            now=self._clock.wall(),
            previous=(current.get("status") or {}).get("conditions"),
        )
        self._core.patch_node_status(
            self._config.node_name,
            {"status": status},
            _content_type=MERGE_PATCH,
            _request_timeout=10,
        )
        return dict(current)

    def _renew_lease(self) -> None:
        name = self._config.node_name
        now = self._clock.wall().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        spec = {"holderIdentity": name, "leaseDurationSeconds": LEASE_DURATION_S, "renewTime": now}
        try:
            self._leases.patch_namespaced_lease(
                name,
                LEASE_NAMESPACE,
                {"spec": spec},
                _content_type=MERGE_PATCH,
                _request_timeout=10,
            )
        except ApiException as exc:
            if exc.status != 404:
                raise
            owner = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": self._node_uid}
            lease = client.V1Lease.from_dict(
                {
                    "metadata": {
                        "name": name,
                        "namespace": LEASE_NAMESPACE,
                        "ownerReferences": [owner],
                    },
                    "spec": spec,
                }
            )
            assert lease is not None
            self._leases.create_namespaced_lease(LEASE_NAMESPACE, lease, _request_timeout=10)

    def _untaint(self, node: Mapping[str, Any]) -> None:
        taints = (node.get("spec") or {}).get("taints") or []
        keep = [t for t in taints if t.get("key") not in _NOT_READY_TAINTS]
        if len(keep) == len(taints):
            return
        _log.info(
            "node is ready: removing taints %s", sorted({t["key"] for t in taints if t not in keep})
        )
        patch = {
            "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
            "spec": {"taints": keep or None},
        }
        try:
            self._core.patch_node(
                self._config.node_name, patch, _content_type=MERGE_PATCH, _request_timeout=10
            )
        except ApiException as exc:
            if exc.status != 409:  # changed meanwhile: the next heartbeat looks again
                raise
