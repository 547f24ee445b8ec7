"""Deploy chaosgate itself into the local cluster (``chaosgate stack suite``): the suite's
manifests as process pods, with a target file that names this stack's loopback ports.

``manifests/overlays/local-suite`` (the suite without what a process pod cannot honour, and
without the in-cluster sink) is wrapped in a kustomization under ``<state dir>/k8s/suite`` that
merges :func:`in_cluster_target` into the ``chaosgate-target`` ConfigMap and the stack's sink
into the runner's ``CHAOSGATE_SINK__URL``. Applying it starts the ``chaosgate-gate`` Job at
once, as on a real cluster: a gate run inside the cluster, as ServiceAccount
``chaosgate-runner``, its load from the two ``locust-worker`` pods. A Job's pod template cannot
change, so an earlier gate Job is deleted first: each deploy is a new gate run.

The target is written here rather than taken from chaosgate's built-in ``local-k8s``: the
reference stack does not import the suite (the suite is what a team installs; this is only
the place it runs against). What differs from ``local-k8s``: no kubeconfig, so the runner uses
its pod's ServiceAccount, the way a real in-cluster runner does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from refstack.launcher.k8s_builds import ensure_k8s_builds
from refstack.launcher.k8s_deploy import APP_NAMESPACE, DeployError, run_kubectl
from refstack.launcher.k8s_parts import NODE_NAME, k8s_files
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import HOST
from refstack.launcher.record import StackError, read_record

__all__ = [
    "GATE_JOB",
    "NIGHTLY_CRONJOB",
    "SUITE_NAMESPACE",
    "deploy_suite",
    "in_cluster_target",
    "stack_suite",
    "suite_kustomization",
]

SUITE_NAMESPACE = "chaosgate"
GATE_JOB = "chaosgate-gate"
NIGHTLY_CRONJOB = "chaosgate-nightly"
_RUNNER_CONTAINER = "runner"
_WORKERS = "locust-worker"


def _url(ports: Mapping[str, int], name: str) -> str:
    return f"http://{HOST}:{ports[name]}"


def in_cluster_target(ports: Mapping[str, int], node_name: str) -> dict[str, Any]:
    """The target file the in-cluster runner reads (chaosgate's target format): the gateway
    through its NodePort, the observability parts on their loopback ports, Kubernetes chaos on
    namespace ``restaurant`` through the pod's ServiceAccount, stress pods on ``node_name``."""
    return {
        "name": "local-k8s-in-cluster",
        "gateway_url": _url(ports, "gateway_nodeport"),
        "chaos": "kubernetes",
        "jaeger": {
            "query_url": _url(ports, "jaeger_query"),
            "span_store": {"url": _url(ports, "store")},
        },
        "elasticsearch": {"url": _url(ports, "store")},
        "prometheus": {"url": _url(ports, "prometheus")},
        "alertmanager": {"url": _url(ports, "alertmanager")},
        "sink": {"url": _url(ports, "sink")},
        "kubernetes": {"namespaces": [APP_NAMESPACE], "stress_node": node_name},
    }


def _sink_patch(kind: str, name: str, sink_url: str) -> dict[str, Any]:
    container = {
        "name": _RUNNER_CONTAINER,
        "env": [{"name": "CHAOSGATE_SINK__URL", "value": sink_url}],
    }
    pod: dict[str, Any] = {"template": {"spec": {"containers": [container]}}}
    spec = {"jobTemplate": {"spec": pod}} if kind == "CronJob" else pod
    return {
        "apiVersion": "batch/v1",
        "kind": kind,
        "metadata": {"name": name, "namespace": SUITE_NAMESPACE},
        "spec": spec,
    }


def suite_kustomization(overlay: Path, deploy_dir: Path, ports: Mapping[str, int]) -> str:
    """The wrapper around ``overlay``: ``target.yaml`` (written beside it by
    :func:`deploy_suite`) merged into ``chaosgate-target``, the stack's sink in the runner's
    environment (the suite reads it from the in-cluster sink's Service variables)."""
    sink_url = _url(ports, "sink")
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(overlay, deploy_dir)],
        "configMapGenerator": [
            {
                "name": "chaosgate-target",
                "namespace": SUITE_NAMESPACE,
                "behavior": "merge",
                "files": ["target.yaml"],
            }
        ],
        "patches": [
            {"patch": yaml.safe_dump(_sink_patch("Job", GATE_JOB, sink_url), sort_keys=False)},
            {
                "patch": yaml.safe_dump(
                    _sink_patch("CronJob", NIGHTLY_CRONJOB, sink_url), sort_keys=False
                )
            },
        ],
    }
    return "# rendered by `chaosgate stack suite`; do not edit\n" + yaml.safe_dump(
        kustomization, sort_keys=False
    )


def deploy_suite(
    *,
    kubectl: Path,
    kubeconfig: Path,
    overlay: Path,
    deploy_dir: Path,
    ports: Mapping[str, int],
    node_name: str,
    timeout_s: float,
) -> str:
    """Delete an earlier gate Job, apply the suite (which starts a new one) and wait until the
    Locust workers are available. Returns kubectl's summary of the suite's workloads.

    The earlier Job goes with its pod first (foreground cascade): two masters behind the
    workers' one Service would share them, and a worker whose connection the proxy moves to
    the new master mid-run carries its batch numbers along, which the new master rightly
    counts as missing entries (seen: a gate deployed a minute after another failed
    ``load.workers`` with 1,348 entries missing)."""
    deploy_dir.mkdir(parents=True, exist_ok=True)
    (deploy_dir / "target.yaml").write_text(
        "# the in-cluster runner's target, rendered by `chaosgate stack suite`; do not edit\n"
        + yaml.safe_dump(in_cluster_target(ports, node_name), sort_keys=False)
    )
    (deploy_dir / "kustomization.yaml").write_text(suite_kustomization(overlay, deploy_dir, ports))
    run_kubectl(
        kubectl,
        kubeconfig,
        [
            "delete", "job", GATE_JOB, f"--namespace={SUITE_NAMESPACE}",
            "--ignore-not-found", "--cascade=foreground", "--wait=true",
            f"--timeout={int(timeout_s)}s",
        ],
        timeout_s + 30,
        f"deleting the earlier gate Job {SUITE_NAMESPACE}/{GATE_JOB}",
    )  # fmt: skip
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
            "wait", "--for=condition=Available", f"deployment/{_WORKERS}",
            f"--namespace={SUITE_NAMESPACE}", f"--timeout={int(timeout_s)}s",
        ],
        timeout_s + 30,
        f"waiting for the Locust workers (see `kubectl --kubeconfig {kubeconfig} get pods -n "
        f"{SUITE_NAMESPACE}`)",
    )  # fmt: skip
    return run_kubectl(
        kubectl,
        kubeconfig,
        ["get", "deployments,jobs,cronjobs", f"--namespace={SUITE_NAMESPACE}"],
        30,
        "listing the suite's workloads",
    )


def stack_suite(layout: StackLayout, *, timeout_s: float) -> str:
    """``chaosgate stack suite``: deploy the suite into the running ``stack up --k8s``.

    Returns kubectl's summary; StackError when no such stack runs or the deploy fails."""
    record = read_record(layout)
    if record is None or not record.k8s:
        raise StackError(
            "no `chaosgate stack up --k8s` is running from state dir "
            f"{layout.state_dir}: start it first"
        )
    files = k8s_files(layout)
    try:
        return deploy_suite(
            kubectl=ensure_k8s_builds(layout).kubectl,
            kubeconfig=files.admin_kubeconfig,
            overlay=layout.repo_root / "manifests" / "overlays" / "local-suite",
            deploy_dir=files.root / "suite",
            ports=record.ports,
            node_name=NODE_NAME,
            timeout_s=timeout_s,
        )
    except DeployError as exc:
        raise StackError(str(exc)) from exc
