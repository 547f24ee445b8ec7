"""A pod worker's volume steps: read what a container's volumes hold from the API and plan
its mount namespace (:mod:`refstack.node.volumes`, :mod:`refstack.node.mountns`), and the
status of a pod refused for a volume this node does not run.

Per pod, under its folder ``<state_dir>/pods/<uid>/``: ``volumes/<name>/`` for each emptyDir
and an empty ``<container>.root/`` that the container's new root tmpfs is mounted on inside
its namespace; the folder is removed when the pod is deleted. Nothing is mounted in the
host's namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from refstack.node.clock import rfc3339
from refstack.node.kubeapi import PodApi
from refstack.node.mountns import Sandbox
from refstack.node.volumes import (
    TokenProjection,
    VolumeError,
    VolumeInputs,
    VolumeReferences,
    container_mounts,
    make_empty_dirs,
    volume_references,
)

__all__ = ["REJECTED_REASON", "container_sandbox", "read_volume_inputs", "rejected_status"]

REJECTED_REASON = "UnsupportedVolume"


def _service_account(pod: Mapping[str, Any]) -> str:
    spec = pod.get("spec") or {}
    return str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")


def read_volume_inputs(api: PodApi, pod: Mapping[str, Any], refs: VolumeReferences) -> VolumeInputs:
    """The ConfigMaps, Secrets and tokens ``refs`` names; raises :class:`VolumeError` when the
    API cannot be read or the pod's service account does not exist."""
    meta = pod["metadata"]
    namespace, account = str(meta["namespace"]), _service_account(pod)
    try:
        config_maps = {n: c for n in refs.config_maps if (c := api.config_map(namespace, n))}
        secrets = {n: s for n in refs.secrets if (s := api.secret(namespace, n))}
        tokens: dict[TokenProjection, str] = {}
        for projection in sorted(refs.tokens, key=lambda t: (t.audience, t.expiration_s)):
            token = api.service_account_token(
                namespace,
                account,
                audience=projection.audience,
                expiration_s=projection.expiration_s,
                pod_name=str(meta["name"]),
                pod_uid=str(meta["uid"]),
            )
            if token is None:
                raise VolumeError(
                    f'serviceaccount "{account}" not found in namespace {namespace!r}; create '
                    "it or set the pod's serviceAccountName"
                )
            tokens[projection] = token
    except VolumeError:
        raise
    except Exception as exc:  # the API is away: retried later, as for a missing ConfigMap
        raise VolumeError(f"cannot read the pod's volumes from the API: {exc}") from exc
    return VolumeInputs(config_maps, secrets, tokens)


def container_sandbox(
    api: PodApi, pod: Mapping[str, Any], container: Mapping[str, Any], pod_dir: Path
) -> Sandbox | None:
    """The mount namespace ``container`` starts in, or None when it mounts no volume."""
    if not container.get("volumeMounts"):
        return None
    inputs = read_volume_inputs(api, pod, volume_references(pod, container))
    mounts = container_mounts(pod, container, inputs, pod_dir / "volumes")
    make_empty_dirs(mounts)
    root = pod_dir / f"{container['name']}.root"
    root.mkdir(parents=True, exist_ok=True)
    return Sandbox(str(root), mounts)


def rejected_status(
    pod: Mapping[str, Any], message: str, *, host_ip: str, start_time: datetime
) -> dict[str, Any]:
    """The status of a pod this node refuses to start: Failed, with the reason and message
    (as the kubelet writes for a pod it rejects at admission)."""
    return {
        "phase": "Failed",
        "reason": REJECTED_REASON,
        "message": f"Pod was rejected: {message}",
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "startTime": (pod.get("status") or {}).get("startTime") or rfc3339(start_time),
    }
