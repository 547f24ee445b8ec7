"""Deploy the restaurant stack onto the local cluster: ``manifests/overlays/local`` wrapped in a
kustomization that sets this stack's ports, applied with kubectl, waited for until available.

kubectl (built with the control plane) does the work: kustomize rendering, server-side apply,
and ``kubectl wait``; this module only writes the wrapper and reports failures in one line.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from refstack.launcher.ports import HOST

__all__ = [
    "APP_NAMESPACE",
    "DeployError",
    "deploy_restaurant",
    "run_kubectl",
    "wrapper_kustomization",
]

APP_NAMESPACE = "restaurant"


class DeployError(Exception):
    """kubectl could not apply the manifests, or the Deployments did not become available."""


def wrapper_kustomization(
    overlay: Path, deploy_dir: Path, ports: Mapping[str, int], data_dir: Path
) -> str:
    """The local overlay with this stack's OTLP endpoint, the gateway's NodePort, and one SQLite
    file per service under ``data_dir`` shared by its replicas (each pod's own file would give
    the two orders replicas two databases: an order placed through one is unknown to the other;
    SQLite in WAL mode serves several processes on one host)."""
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(overlay, deploy_dir)],
        "configMapGenerator": [
            {
                "name": "restaurant-observability",
                "namespace": APP_NAMESPACE,
                "behavior": "merge",
                "literals": [f"OTEL_EXPORTER_OTLP_ENDPOINT=http://{HOST}:{ports['otlp_http']}"],
            },
            {
                "name": "restaurant-storage",
                "namespace": APP_NAMESPACE,
                "behavior": "merge",
                "literals": [
                    f"{service.upper()}_DATABASE_URL=sqlite:///{data_dir / (service + '.db')}"
                    for service in ("orders", "users")
                ],
            },
        ],
        "patches": [
            {
                "target": {"kind": "Service", "name": "gateway", "namespace": APP_NAMESPACE},
                "patch": yaml.safe_dump(
                    [
                        {
                            "op": "replace",
                            "path": "/spec/ports/0/nodePort",
                            "value": ports["gateway_nodeport"],
                        }
                    ]
                ),
            }
        ],
    }
    return "# rendered by `chaosgate stack up --k8s`; do not edit\n" + yaml.safe_dump(
        kustomization, sort_keys=False
    )


def run_kubectl(
    kubectl: Path, kubeconfig: Path, args: Sequence[str], timeout_s: float, what: str
) -> str:
    command = [str(kubectl), f"--kubeconfig={kubeconfig}", *args]
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        raise DeployError(f"{what}: kubectl did not finish within {timeout_s:.0f} s") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().replace("\n", "; ")
        raise DeployError(f"{what} failed (kubectl exit {proc.returncode}): {detail[:1500]}")
    return proc.stdout


def deploy_restaurant(
    *,
    kubectl: Path,
    kubeconfig: Path,
    overlay: Path,
    deploy_dir: Path,
    data_dir: Path,
    ports: Mapping[str, int],
    timeout_s: float,
) -> str:
    """Apply the local overlay and wait until every Deployment in ``restaurant`` is available.

    Returns kubectl's summary of the Deployments.
    """
    deploy_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    (deploy_dir / "kustomization.yaml").write_text(
        wrapper_kustomization(overlay, deploy_dir, ports, data_dir)
    )
    run_kubectl(
        kubectl,
        kubeconfig,
        ["apply", "--server-side", "--force-conflicts", "-k", str(deploy_dir)],
        120,
        f"applying {overlay}",
    )
    run_kubectl(
        kubectl,
        kubeconfig,
        [
            "wait",
            "--for=condition=Available",
            "deployment",
            "--all",
            f"--namespace={APP_NAMESPACE}",
            f"--timeout={int(timeout_s)}s",
        ],
        timeout_s + 30,
        f"waiting for the Deployments in namespace {APP_NAMESPACE!r} to be available "
        f"(see `kubectl --kubeconfig {kubeconfig} get pods -n {APP_NAMESPACE}`)",
    )
    return run_kubectl(
        kubectl,
        kubeconfig,
        ["get", "deployments", f"--namespace={APP_NAMESPACE}"],
        30,
        "listing the Deployments",
    )
