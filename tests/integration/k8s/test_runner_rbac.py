"""The runner's RBAC (manifests/suite/rbac.yaml), applied to the local cluster for real and
judged by the API server's own authorizer (`kubectl auth can-i --as <the runner's account>`):
everything experiments/k8s/ does is allowed, and nothing beyond it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.k8s.conftest import K8sStack

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

REPO = Path(__file__).resolve().parents[3]
RUNNER = "system:serviceaccount:chaosgate:chaosgate-runner"

# what each activity of experiments/k8s/ calls: (verb, resource) in namespace restaurant
ACTIVITY_PERMISSIONS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("chaosk8s.pod.actions", "terminate_pods"): [("list", "pods"), ("delete", "pods")],
    ("chaosk8s.deployment.probes", "deployment_available_and_healthy"): [
        ("list", "deployments.apps")
    ],
    ("chaosk8s.deployment.probes", "deployment_fully_available"): [
        ("list", "deployments.apps"),
        ("watch", "deployments.apps"),
    ],
    ("chaosgate.chaos.k8s_actions", "detach_service"): [("get", "services"), ("patch", "services")],
    ("chaosgate.chaos.k8s_actions", "reattach_service"): [
        ("get", "services"),
        ("patch", "services"),
    ],
    ("chaosgate.chaos.k8s_actions", "start_stress"): [("create", "jobs.batch"), ("list", "pods")],
    ("chaosgate.chaos.k8s_actions", "stop_stress"): [("delete", "jobs.batch")],
    ("chaosgate.chaos.k8s_probes", "pods_gone"): [("list", "pods")],
    # finds the pod and follows its restartCount by listing; the kill is a local signal
    ("chaosgate.chaos.k8s_crash", "crash_container"): [("list", "pods")],
    # the pods' own admin fault endpoints, found by listing them (pod IPs, HTTP, no API write)
    ("chaosgate.chaos.k8s_faults", "set_pod_faults"): [("list", "pods")],
    ("chaosgate.chaos.k8s_faults", "clear_pod_faults"): [("list", "pods")],
    # node-level and device faults: the gateway's HTTP API and the node's own filesystems
    ("chaosgate.chaos.local_actions", "silence_devices"): [],
    ("chaosgate.chaos.local_actions", "decommission_devices"): [],
    ("chaosgate.chaos.local_actions", "fill_disk"): [],
    ("chaosgate.chaos.local_actions", "release_disk"): [],
    ("chaosgate.chaos.k8s_probes", "service_has_ready_pods"): [
        ("get", "services"),
        ("list", "pods"),
    ],
}
NEEDED = sorted(
    {
        (verb, resource, "restaurant")
        for perms in ACTIVITY_PERMISSIONS.values()
        for verb, resource in perms
    }
)
NOT_NEEDED = [
    ("create", "pods", "restaurant"),
    ("patch", "deployments.apps", "restaurant"),
    ("delete", "deployments.apps", "restaurant"),
    ("delete", "services", "restaurant"),
    ("get", "secrets", "restaurant"),
    ("list", "pods", "default"),  # outside the allowlisted namespace
    ("delete", "pods", "kube-system"),
    ("list", "nodes", ""),
    ("create", "pods/exec", "restaurant"),
]


def _activities(experiment: object) -> Iterator[tuple[str, str]]:
    if isinstance(experiment, dict):
        provider = experiment.get("provider")
        if isinstance(provider, dict) and provider.get("type") == "python":
            yield provider["module"], provider["func"]
        for value in experiment.values():
            yield from _activities(value)
    elif isinstance(experiment, list):
        for item in experiment:
            yield from _activities(item)


def test_every_k8s_experiment_activity_has_its_permissions_listed() -> None:
    """A new activity in experiments/k8s/ must be added above (and to the Role if needed)."""
    used = {
        activity
        for path in sorted((REPO / "experiments" / "k8s").glob("*.json"))
        for activity in _activities(json.loads(path.read_text()))
    }
    assert used == set(ACTIVITY_PERMISSIONS)


@pytest.fixture(scope="module")
def runner_rbac(k8s_stack: K8sStack) -> Iterator[K8sStack]:
    suite = REPO / "manifests" / "suite"
    files = [f"--filename={suite / name}" for name in ("namespace.yaml", "rbac.yaml")]
    applied = k8s_stack.run("apply", "--server-side", *files)
    assert applied.returncode == 0, applied.stderr
    yield k8s_stack
    k8s_stack.run("delete", "--ignore-not-found", "--wait=false", *files)


def _can(stack: K8sStack, verb: str, resource: str, namespace: str) -> bool:
    where = [f"--namespace={namespace}"] if namespace else []
    answer = stack.run("auth", "can-i", verb, resource, *where, f"--as={RUNNER}")
    assert answer.stdout.strip() in ("yes", "no"), answer.stdout + answer.stderr
    return answer.stdout.strip() == "yes"


@pytest.mark.parametrize(("verb", "resource", "namespace"), NEEDED)
def test_the_runner_may_do_what_the_experiments_do(
    runner_rbac: K8sStack, verb: str, resource: str, namespace: str
) -> None:
    assert _can(runner_rbac, verb, resource, namespace)


@pytest.mark.parametrize(("verb", "resource", "namespace"), NOT_NEEDED)
def test_the_runner_may_do_nothing_more(
    runner_rbac: K8sStack, verb: str, resource: str, namespace: str
) -> None:
    assert not _can(runner_rbac, verb, resource, namespace)
