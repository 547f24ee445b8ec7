"""An in-memory Kubernetes API behind the kubernetes client's transport, for unit tests.

``FakeKube`` stands in for the urllib3 pool manager of a real ``kubernetes.client.ApiClient``
(``FakeKube.client()``), so the generated client builds its real requests and parses real
answers; the fake keeps Services, Jobs and Pods of the few routes chaosgate's activities use,
with the API server's behaviours they rely on: resourceVersion preconditions on patches (409),
strategic-merge patches of maps (``null`` deletes a key), 409 on creating an existing Job, 404
for missing objects, equality label selectors, Jobs whose pods carry
``batch.kubernetes.io/job-name`` and go away with the Job. ``service_pod`` puts a pod at a pod
IP of the test's choosing with a container port; ``on_list_pods`` changes the pods between two
lists, ``pod_list_error`` refuses them.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import urllib3
from kubernetes import client

__all__ = ["FakeKube", "pod", "service", "service_pod"]

Obj = dict[str, Any]


def service(name: str, selector: dict[str, str], *, ns: str = "restaurant") -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": "1", "annotations": {}},
        "spec": {"selector": dict(selector), "clusterIP": "10.96.0.42", "ports": [{"port": 8081}]},
    }


def pod(
    name: str,
    labels: dict[str, str],
    *,
    ns: str = "restaurant",
    phase: str = "Running",
    ready: bool = True,
    terminating: bool = False,
) -> Obj:
    metadata: Obj = {"name": name, "namespace": ns, "labels": dict(labels)}
    if terminating:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"nodeName": "chaosgate-local", "containers": [{"name": "c", "image": "x"}]},
        "status": {
            "phase": phase,
            "podIP": "127.1.0.9",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def service_pod(
    name: str, labels: dict[str, str], *, ip: str, port: int | None, **kwargs: Any
) -> Obj:
    """A ``pod`` at pod IP ``ip`` whose container declares ``port`` (None: no port)."""
    obj = pod(name, labels, **kwargs)
    obj["status"]["podIP"] = ip
    if port is not None:
        ports = [{"name": "http", "containerPort": port, "protocol": "TCP"}]
        obj["spec"]["containers"][0]["ports"] = ports
    return obj


def _merge(target: Obj, patch: Obj) -> Obj:
    """A merge patch (RFC 7386), which is what a strategic merge does to maps."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _matches(labels: dict[str, str], selector: str) -> bool:
    pairs = [item.split("=", 1) for item in selector.split(",") if item]
    return all(labels.get(key) == value for key, value in pairs)


@dataclass
class FakeKube:
    services: dict[tuple[str, str], Obj] = field(default_factory=dict)
    pods: dict[tuple[str, str], Obj] = field(default_factory=dict)
    jobs: dict[tuple[str, str], Obj] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    conflicts: int = 0  # answer this many service patches with 409 first
    # called on each pod list of a Job's pods: may change the pods (start, end, schedule them)
    on_list_job_pods: Callable[[FakeKube, str, int], None] | None = None
    # called before each pod list with its label selector (may change the pods)
    on_list_pods: Callable[[FakeKube, str], None] | None = None
    pod_list_error: tuple[int, str] | None = None  # answer pod lists with this (code, reason)
    _lists: int = 0

    def client(self) -> client.ApiClient:
        api = client.ApiClient(client.Configuration(host="http://k8s.test"))
        api.rest_client.pool_manager = self  # type: ignore[assignment]
        return api

    def add(self, obj: Obj) -> None:
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        {"Service": self.services, "Pod": self.pods, "Job": self.jobs}[obj["kind"]][key] = obj

    # --- the transport -------------------------------------------------------------------------

    def request(
        self, method: str, url: str, body: str | None = None, **_: Any
    ) -> urllib3.HTTPResponse:
        parts = urlsplit(url)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        payload = json.loads(body) if body else None
        self.requests.append((method, parts.path, payload))
        status, answer = self._route(method, parts.path, query, payload)
        data = json.dumps(answer).encode()
        return urllib3.HTTPResponse(
            body=io.BytesIO(data),
            status=status,
            reason={200: "OK", 201: "Created", 404: "Not Found", 409: "Conflict"}.get(status, ""),
            headers={"Content-Type": "application/json"},
            preload_content=False,
        )

    def _route(
        self, method: str, path: str, query: dict[str, str], payload: Any
    ) -> tuple[int, Any]:
        if found := re.fullmatch(r"/api/v1/namespaces/([^/]+)/services/([^/]+)", path):
            return self._service(method, (found[1], found[2]), payload)
        if found := re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods", path):
            return self._list_pods(found[1], query.get("labelSelector", ""))
        if found := re.fullmatch(r"/apis/batch/v1/namespaces/([^/]+)/jobs", path):
            return self._create_job(found[1], payload)
        if found := re.fullmatch(r"/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)", path):
            return self._delete_job((found[1], found[2]))
        raise AssertionError(f"the fake API has no route for {method} {path}")

    @staticmethod
    def _status(code: int, reason: str, message: str) -> tuple[int, Obj]:
        body = {"kind": "Status", "status": "Failure", "reason": reason, "message": message}
        return code, {**body, "code": code}

    def _service(self, method: str, key: tuple[str, str], patch: Any) -> tuple[int, Any]:
        current = self.services.get(key)
        if current is None:
            return self._status(404, "NotFound", f'services "{key[1]}" not found')
        if method == "GET":
            return 200, current
        assert method == "PATCH", method
        wanted = (patch.get("metadata") or {}).get("resourceVersion")
        if self.conflicts > 0 or (wanted and wanted != current["metadata"]["resourceVersion"]):
            self.conflicts = max(0, self.conflicts - 1)
            current["metadata"]["resourceVersion"] = str(
                int(current["metadata"]["resourceVersion"]) + 1
            )
            return self._status(409, "Conflict", "the object has been modified")
        merged = _merge(current, patch)
        merged["metadata"]["resourceVersion"] = str(int(current["metadata"]["resourceVersion"]) + 1)
        self.services[key] = merged
        return 200, merged

    def _list_pods(self, ns: str, selector: str) -> tuple[int, Any]:
        if self.pod_list_error is not None:
            code, reason = self.pod_list_error
            return self._status(code, reason, f'pods is {reason.lower()} in namespace "{ns}"')
        if self.on_list_pods is not None:
            self.on_list_pods(self, selector)
        job = re.search(r"batch\.kubernetes\.io/job-name=([^,]+)", selector)
        if job and self.on_list_job_pods is not None:
            self._lists += 1
            self.on_list_job_pods(self, job[1], self._lists)
        items = [
            obj
            for (pod_ns, _), obj in sorted(self.pods.items())
            if pod_ns == ns and _matches(obj["metadata"].get("labels", {}), selector)
        ]
        return 200, {"apiVersion": "v1", "kind": "PodList", "metadata": {}, "items": items}

    def _create_job(self, ns: str, job: Obj) -> tuple[int, Any]:
        key = (ns, job["metadata"]["name"])
        if key in self.jobs:
            return self._status(409, "AlreadyExists", f'jobs.batch "{key[1]}" already exists')
        self.jobs[key] = job
        return 201, job

    def _delete_job(self, key: tuple[str, str]) -> tuple[int, Any]:
        if self.jobs.pop(key, None) is None:
            return self._status(404, "NotFound", f'jobs.batch "{key[1]}" not found')
        for pod_key, obj in list(self.pods.items()):
            if obj["metadata"].get("labels", {}).get("batch.kubernetes.io/job-name") == key[1]:
                del self.pods[pod_key]
        return 200, {"kind": "Status", "status": "Success"}

    def job_pod(self, job: str, *, phase: str, ns: str = "restaurant", **status: Any) -> Obj:
        """Put the pod of Job ``job`` in ``phase`` (with extra status fields)."""
        template = self.jobs[(ns, job)]["spec"]["template"]
        labels = {**template["metadata"]["labels"], "batch.kubernetes.io/job-name": job}
        obj = pod(f"{job}-abcde", labels, ns=ns, phase=phase, ready=phase == "Running")
        obj["spec"]["nodeSelector"] = template["spec"].get("nodeSelector")
        obj["status"].update(status)
        self.add(obj)
        return obj
