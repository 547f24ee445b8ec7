"""Kubernetes chaos actions chaosk8s does not have, called by Chaos Toolkit as ``type: python``
activities (experiments/k8s/). They use chaosk8s' own client factory, so they reach the same
cluster as the chaosk8s activities beside them (``KUBECONFIG`` / ``KUBERNETES_CONTEXT``, which
the runner sets from the target).

- ``start_stress`` / ``stop_stress``: a stress Job (manifests/chaos/stress-*.yaml) pinned to a
  node, started and waited for until its pod runs, then deleted. Why not chaosk8s'
  ``create_deployment`` (``start_microservice``): a Deployment's pods always restart, so
  stress-ng's ``--timeout`` would end one round and the next would start; a Job with
  ``restartPolicy: Never``, ``activeDeadlineSeconds`` and ``ttlSecondsAfterFinished`` stays
  bounded when the rollback never runs, and chaosk8s has no Job action.
- ``detach_service`` / ``reattach_service``: the Service keeps its ClusterIP but selects no
  pod, then gets its selector back. Why not chaosk8s' ``delete_service`` and
  ``create_service_endpoint``: a re-created Service gets a new ClusterIP while the clients'
  pods keep the old one in ``<NAME>_SERVICE_HOST`` (set when they started), so they would never
  reach it again. The original selector is kept in an annotation on the Service itself, so the
  rollback needs nothing from the action's process (it survives a crash of the runner) and
  both actions can be played twice.

Every function takes ``api`` (a ``kubernetes.client.ApiClient``; None: chaosk8s'
``create_k8s_api_client``), and the waiting ones a ``clock`` and ``sleep``, so tests can hand
in a client on a fake transport.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from chaoslib.exceptions import ActivityFailed
from kubernetes import client
from kubernetes.client import ApiException

from chaosgate.chaos.k8s_api import (
    Sleep,
    api_client,
    api_reason,
    object_name,
    read_service,
)
from chaosgate.chaos.k8s_specs import SpecError, load_spec_documents, resolve_spec_path
from chaosgate.vocabulary import Clock

__all__ = [
    "DETACHED_LABEL",
    "ORIGINAL_SELECTOR_ANNOTATION",
    "detach_service",
    "reattach_service",
    "start_stress",
    "stop_stress",
]

ORIGINAL_SELECTOR_ANNOTATION = "chaosgate.io/original-selector"
DETACHED_LABEL = "chaosgate.io/detached-from"  # the selector of a detached Service: no pod has it
HOSTNAME_LABEL = "kubernetes.io/hostname"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
_CONFLICT_RETRIES = 3


# --- stress Jobs -----------------------------------------------------------------------------


def _stress_job(spec_path: str, ns: str, node_name: str | None) -> dict[str, Any]:
    try:
        documents = load_spec_documents(resolve_spec_path(spec_path))
    except SpecError as exc:
        raise ActivityFailed(str(exc)) from None
    if len(documents) != 1 or documents[0].get("kind") != "Job":
        kinds = [doc.get("kind") for doc in documents]
        raise ActivityFailed(
            f"spec file {spec_path!r} holds {kinds}, not one Job; a stress spec is one "
            "batch/v1 Job (see manifests/chaos/stress-cpu.yaml)"
        )
    job = documents[0]
    metadata = job.setdefault("metadata", {})
    if not metadata.get("name"):
        raise ActivityFailed(f"spec file {spec_path!r}: the Job has no metadata.name; name it")
    if metadata.get("namespace", ns) != ns:
        raise ActivityFailed(
            f"spec file {spec_path!r}: the Job's namespace {metadata['namespace']!r} is not "
            f"the activity's ns {ns!r}; make them the same"
        )
    metadata["namespace"] = ns
    if node_name:
        pod_spec = job.get("spec", {}).get("template", {}).get("spec")
        if not isinstance(pod_spec, dict):
            raise ActivityFailed(f"spec file {spec_path!r}: the Job has no spec.template.spec")
        selector = pod_spec.get("nodeSelector") or {}
        pod_spec["nodeSelector"] = {**selector, HOSTNAME_LABEL: node_name}
    return job


def _pod_problem(pod: client.V1Pod) -> str | None:
    """Why ``pod`` will not run, if that is clear already (it ended, or its image is missing)."""
    status = pod.status
    if status is None:
        return None
    if status.phase in ("Failed", "Succeeded"):
        ended = [
            f"{cs.name} exited {cs.state.terminated.exit_code} ({cs.state.terminated.reason})"
            for cs in status.container_statuses or []
            if cs.state is not None and cs.state.terminated is not None
        ]
        return f"its pod {object_name(pod)} ended ({status.phase}: {', '.join(ended) or '?'})"
    for cs in status.container_statuses or []:
        waiting = cs.state.waiting if cs.state is not None else None
        if waiting is not None and waiting.reason in ("ErrImagePull", "ImagePullBackOff"):
            return f"its container {cs.name} cannot start: {waiting.reason}: {waiting.message}"
    return None


def _unscheduled(pod: client.V1Pod) -> str | None:
    for condition in (pod.status.conditions if pod.status else None) or []:
        if condition.type == "PodScheduled" and condition.status == "False":
            return f"{condition.reason}: {condition.message}"
    return None


def start_stress(
    spec_path: str,
    ns: str = "restaurant",
    node_name: str | None = None,
    timeout_s: float = 30.0,
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> dict[str, Any]:
    """Create the stress Job of ``spec_path`` in ``ns`` and wait until its pod runs.

    ``node_name`` pins it to that node (``nodeSelector kubernetes.io/hostname``, replacing the
    spec's); None or "" keeps the spec's own. Fails when a Job of that name exists already (an
    earlier run's: it ends and is deleted by itself, or ``stop_stress`` deletes it), when the
    pod ends, cannot be scheduled or pulled, or is not running after ``timeout_s``. A Job it
    created but could not see running is deleted again before it fails.
    """
    v1_batch = client.BatchV1Api(api_client(api, secrets))
    v1 = client.CoreV1Api(v1_batch.api_client)
    job = _stress_job(spec_path, ns, node_name)
    name = job["metadata"]["name"]
    body = client.V1Job.from_dict(job)
    if body is None:
        raise ActivityFailed(f"spec file {spec_path!r}: the Job is empty")
    try:
        v1_batch.create_namespaced_job(ns, body)
    except ApiException as exc:
        if exc.status == 409:
            raise ActivityFailed(
                f"a Job {name!r} already exists in namespace {ns!r} (an earlier run's stress; "
                "it deletes itself a minute after it ends); wait, or delete it: "
                f"kubectl -n {ns} delete job {name}"
            ) from None
        raise ActivityFailed(f"cannot create Job {name!r} in {ns!r}: {api_reason(exc)}") from None
    deadline = clock() + timeout_s
    while True:
        pods = v1.list_namespaced_pod(ns, label_selector=f"{JOB_NAME_LABEL}={name}").items
        running = [p for p in pods if p.status is not None and p.status.phase == "Running"]
        if running:
            pod = running[0]
            return {
                "job": name,
                "namespace": ns,
                "pod": object_name(pod),
                "node": pod.spec.node_name if pod.spec is not None else None,
                "pod_ip": pod.status.pod_ip if pod.status is not None else None,
            }
        fatal = next((reason for reason in map(_pod_problem, pods) if reason), None)
        if fatal is None and clock() < deadline:
            sleep(0.5)
            continue
        _delete_job(v1_batch, name, ns)
        unscheduled = _unscheduled(pods[0]) if pods else None
        if fatal is not None:
            why = fatal
        elif unscheduled is not None:
            why = (
                f"its pod cannot be scheduled ({unscheduled}); set the target's "
                "kubernetes.stress_node to one of the cluster's nodes"
            )
        else:
            state = f"pod {object_name(pods[0])} is {_phase(pods[0])}" if pods else "no pod yet"
            why = f"not running after {timeout_s:g} s ({state})"
        raise ActivityFailed(f"stress Job {name!r} in {ns!r}: {why}; deleted it again")


def _phase(pod: client.V1Pod) -> str:
    return str(pod.status.phase) if pod.status is not None else "new"


def _delete_job(v1_batch: client.BatchV1Api, name: str, ns: str) -> bool:
    """Delete Job ``name`` and (in the background) its pods; False if it did not exist."""
    try:
        v1_batch.delete_namespaced_job(
            name, ns, body=client.V1DeleteOptions(propagation_policy="Background")
        )
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise ActivityFailed(f"cannot delete Job {name!r} in {ns!r}: {api_reason(exc)}") from None
    return True


def stop_stress(
    name: str,
    ns: str = "restaurant",
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
) -> dict[str, Any]:
    """Delete the stress Job ``name`` and its pods (the garbage collector removes them; check
    with ``k8s_probes.pods_gone``). A Job already gone is fine: the rollback can run twice."""
    deleted = _delete_job(client.BatchV1Api(api_client(api, secrets)), name, ns)
    return {"job": name, "namespace": ns, "deleted": deleted}


# --- detached Services -----------------------------------------------------------------------


def _stored_selector(service: client.V1Service) -> dict[str, str] | None:
    annotations = (service.metadata.annotations if service.metadata is not None else None) or {}
    text = annotations.get(ORIGINAL_SELECTOR_ANNOTATION)
    if text is None:
        return None
    try:
        stored = json.loads(text)
    except ValueError:
        stored = None
    if (
        not isinstance(stored, dict)
        or not stored
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in stored.items())
    ):
        raise ActivityFailed(
            f"Service {object_name(service)!r}: annotation {ORIGINAL_SELECTOR_ANNOTATION} is "
            f"{text!r}, not a label selector; restore spec.selector from the manifests by hand "
            "and remove the annotation"
        )
    return stored


def _patch_with_retries(
    v1: client.CoreV1Api,
    name: str,
    ns: str,
    build: Callable[[client.V1Service], tuple[dict[str, Any] | None, dict[str, Any]]],
) -> dict[str, Any]:
    """Read, build a patch (None: nothing to do) and apply it under the read resourceVersion;
    a concurrent change (409) is read again, up to a few times."""
    for _ in range(_CONFLICT_RETRIES):
        service = read_service(v1, name, ns)
        patch, result = build(service)
        if patch is None:
            return result
        if service.metadata is not None and service.metadata.resource_version:
            patch.setdefault("metadata", {})["resourceVersion"] = service.metadata.resource_version
        try:
            v1.patch_namespaced_service(name, ns, patch)
        except ApiException as exc:
            if exc.status == 409:
                continue
            raise ActivityFailed(
                f"cannot patch Service {name!r} in {ns!r}: {api_reason(exc)}"
            ) from None
        return result
    raise ActivityFailed(
        f"Service {name!r} in {ns!r} kept changing while it was patched "
        f"({_CONFLICT_RETRIES} conflicts); try again"
    )


def detach_service(
    name: str,
    ns: str = "restaurant",
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
) -> dict[str, Any]:
    """Make Service ``name`` select no pod, keeping it (and its ClusterIP): its clients' calls
    then find no endpoint. The original selector goes into the annotation
    ``chaosgate.io/original-selector``; a Service detached already is left as it is."""
    v1 = client.CoreV1Api(api_client(api, secrets))

    def build(service: client.V1Service) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        spec = service.spec or client.V1ServiceSpec()
        result = {"service": name, "namespace": ns, "cluster_ip": spec.cluster_ip}
        stored = _stored_selector(service)
        if stored is not None:
            return None, {**result, "detached": False, "original_selector": stored}
        selector = dict(spec.selector or {})
        if not selector:
            raise ActivityFailed(
                f"Service {name!r} in {ns!r} has no selector (its endpoints are managed by "
                "hand); there is nothing to detach"
            )
        patch = {
            "metadata": {
                "annotations": {ORIGINAL_SELECTOR_ANNOTATION: json.dumps(selector, sort_keys=True)}
            },
            "spec": {"selector": {**dict.fromkeys(selector), DETACHED_LABEL: name}},
        }
        return patch, {**result, "detached": True, "original_selector": selector}

    return _patch_with_retries(v1, name, ns, build)


def reattach_service(
    name: str,
    ns: str = "restaurant",
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
) -> dict[str, Any]:
    """Give Service ``name`` back the selector ``detach_service`` stored, and drop the
    annotation; a Service that is not detached is left as it is."""
    v1 = client.CoreV1Api(api_client(api, secrets))

    def build(service: client.V1Service) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        result: dict[str, Any] = {"service": name, "namespace": ns}
        stored = _stored_selector(service)
        current = dict((service.spec.selector if service.spec is not None else None) or {})
        if stored is None:
            if DETACHED_LABEL in current:
                raise ActivityFailed(
                    f"Service {name!r} in {ns!r} selects {current} but its original selector "
                    f"(annotation {ORIGINAL_SELECTOR_ANNOTATION}) is gone; restore "
                    "spec.selector from the manifests by hand"
                )
            return None, {**result, "reattached": False, "selector": current}
        stale = {key: None for key in current if key not in stored}
        patch = {
            "metadata": {"annotations": {ORIGINAL_SELECTOR_ANNOTATION: None}},
            "spec": {"selector": {**stale, **stored}},
        }
        return patch, {**result, "reattached": True, "selector": stored}

    return _patch_with_retries(v1, name, ns, build)
