"""Render the kustomizations under manifests/ with the real kubectl, and read what they hold."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from refstack.launcher.builds import BuildError
from refstack.launcher.k8s_builds import ensure_k8s_builds
from refstack.launcher.layout import StackLayout
from refstack.service_env import service_env

__all__ = [
    "CLUSTER_SCOPED_KINDS",
    "KUSTOMIZATIONS",
    "MANIFESTS",
    "RESTAURANT",
    "Obj",
    "container",
    "find",
    "find_kubectl",
    "injected_service_env",
    "pod_spec",
    "render",
    "variable_references",
]

REPO_ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = REPO_ROOT / "manifests"
# name -> directory under manifests/
KUSTOMIZATIONS = {
    "base": "base/restaurant",
    "local": "overlays/local",
    "cluster": "overlays/cluster",
    "suite": "suite",
}
# service -> (port, replicas): the contract every restaurant kustomization keeps
RESTAURANT = {"gateway": (8080, 2), "orders": (8081, 2), "users": (8082, 1), "iot": (8083, 1)}
# the kinds these manifests use that have no namespace
CLUSTER_SCOPED_KINDS = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding"})

Obj = dict[str, Any]
_REFERENCE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def find_kubectl(env: Mapping[str, str]) -> Path:
    """The kubectl built with the control plane (cached); skip only when Go is missing."""
    try:
        return ensure_k8s_builds(StackLayout.from_env(env)).kubectl
    except BuildError as exc:
        if shutil.which("go") is None:
            pytest.skip(f"kubectl is not built and Go is not installed to build it: {exc}")
        raise


def render(kubectl: Path, directory: Path) -> list[Obj]:
    """``kubectl kustomize directory``, as a list of objects."""
    proc = subprocess.run(
        [str(kubectl), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, f"kubectl kustomize {directory} failed: {proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc is not None]


def find(objects: list[Obj], kind: str, name: str | None = None) -> list[Obj]:
    """The objects of ``kind`` (and ``name``, if given)."""
    return [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]


def pod_spec(workload: Obj) -> Obj:
    """The pod spec of a Deployment, Job or CronJob."""
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    result: Obj = spec["template"]["spec"]
    return result


def container(workload: Obj) -> Obj:
    """The one container of a workload (each of these manifests' pods has exactly one)."""
    containers = pod_spec(workload)["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: {len(containers)} containers"
    result: Obj = containers[0]
    return result


def injected_service_env(services: list[Obj]) -> set[str]:
    """The names of the variables the node agent (as a kubelet) injects for these Services.

    The rendered Services have no ClusterIP yet; each gets one, as the API server would.
    """
    allocated = [
        {**service, "spec": {**service["spec"], "clusterIP": f"10.96.0.{index}"}}
        for index, service in enumerate(services, start=10)
    ]
    return set(service_env(allocated, apiserver_host="127.0.0.1", apiserver_port=6443))


def variable_references(text: str) -> Iterator[str]:
    """The ``$(VAR)`` references in ``text`` (``$$(VAR)`` is an escaped literal)."""
    for match in _REFERENCE.finditer(text):
        yield match.group(1)
