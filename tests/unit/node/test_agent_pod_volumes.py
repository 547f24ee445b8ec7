"""A pod worker giving a pod its volumes, against a scripted API server on loopback
(pytest-httpserver; transport only): the ConfigMaps, the Secret, the TokenRequest, the status
patches, the Event and the deletion are real HTTP calls of the kubernetes client."""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from refstack.node.clock import SystemClock
from refstack.node.ipam import PodIpPool
from refstack.node.kubeapi import PodApi
from refstack.node.pods import NodeContext, PodWorker
from refstack.node_config import ImageSpec, NodeConfig
from tests.support.waiting import wait_until
from tests.unit.node.service_account import KUBE_API_ACCESS, SA_DIR, SA_MOUNT

NS = "chaosgate"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class FakeApi:
    """The API server's side of what a pod worker asks, from fixed objects; every write kept."""

    def __init__(self) -> None:
        self.config_maps = {
            "chaosgate-target": {"data": {"target.yaml": "name: cluster\n"}},
            "kube-root-ca.crt": {"data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nCA\n"}},
        }
        self.secrets = {"notification-sink-token": {"data": {"token": _b64("s3cret")}}}
        self.token_requests: list[tuple[str, dict[str, Any]]] = []
        self.statuses: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        path, method = request.path, request.method
        prefix = f"/api/v1/namespaces/{NS}/"
        assert path.startswith(prefix), path
        kind, _, rest = path[len(prefix) :].partition("/")
        with self._lock:
            if kind == "services":
                return self._json({"kind": "ServiceList", "items": []})
            if kind in ("configmaps", "secrets") and method == "GET":
                found = (self.config_maps if kind == "configmaps" else self.secrets).get(rest)
                if found is None:
                    return self._json({"kind": "Status", "code": 404, "reason": "NotFound"}, 404)
                return self._json({"metadata": {"name": rest, "namespace": NS}, **found})
            if kind == "serviceaccounts" and method == "POST":
                account = rest.removesuffix("/token")
                body = json.loads(request.get_data())
                self.token_requests.append((account, body))
                uid = body["spec"]["boundObjectRef"]["uid"]
                return self._json({**body, "status": {"token": f"token-of-{account}-{uid}"}}, 201)
            if kind == "pods" and method == "PATCH":
                self.statuses.append(json.loads(request.get_data())["status"])
                return self._json({"kind": "Pod", "apiVersion": "v1", "metadata": {}})
            if kind == "pods" and method == "DELETE":
                self.deleted.append(rest)
                return self._json({"kind": "Pod", "apiVersion": "v1", "metadata": {}})
            if kind == "events" and method == "POST":
                self.events.append(json.loads(request.get_data()))
                return self._json({"kind": "Event"}, 201)
        raise AssertionError(f"unexpected {method} {path}")

    @staticmethod
    def _json(body: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def last_status(self) -> dict[str, Any]:
        with self._lock:
            return self.statuses[-1] if self.statuses else {}


@pytest.fixture()
def api(httpserver: HTTPServer) -> FakeApi:
    fake = FakeApi()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
    return fake


@pytest.fixture()
def node(httpserver: HTTPServer, tmp_path: Path, api: FakeApi) -> Iterator[NodeContext]:
    api_client = client.ApiClient(client.Configuration(host=httpserver.url_for("").rstrip("/")))
    config = NodeConfig(
        kubeconfig=tmp_path / "kubeconfig",
        state_dir=tmp_path / "state",
        container_log_dir=tmp_path / "logs",
        images={"chaosgate/suite": ImageSpec(path=(str(Path(sys.executable).parent),))},
    )
    with httpx.Client() as probe_http:
        yield NodeContext(
            config=config,
            api=PodApi(api_client),
            pool=PodIpPool(config.pod_cidr, reserved=[config.node_ip]),
            clock=SystemClock(),
            probe_http=probe_http,
            allocatable={},
            agent_env={"PATH": "/usr/bin:/bin", "HOME": "/root"},
        )


def _pod(containers: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {"name": "gate-abc", "namespace": NS, "uid": "uid-gate-1"},
        "spec": {
            "nodeName": "chaosgate-local",
            "restartPolicy": "Never",
            "serviceAccountName": "chaosgate-runner",
            "terminationGracePeriodSeconds": 2,
            "containers": containers,
            "volumes": volumes,
        },
        "status": {"phase": "Pending"},
    }


def _python(name: str, script: str, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": name,
        "image": "chaosgate/suite:local",
        "command": ["python3", "-I", "-S", "-c", script],
        "volumeMounts": mounts,
    }


class Worker:
    def __init__(self, pod: dict[str, Any], node: NodeContext) -> None:
        self.pod = pod
        self.done = threading.Event()
        self.worker = PodWorker(pod, node, lambda _uid: self.done.set())

    def __enter__(self) -> Worker:
        self.worker.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.worker.gone()
        assert self.worker.join(15)

    def delete(self) -> None:
        meta = {**self.pod["metadata"], "deletionTimestamp": "2026-01-01T00:00:00Z"}
        self.worker.update({**self.pod, "metadata": meta, "status": {"phase": "Succeeded"}})
        assert self.done.wait(15), "the pod worker did not finish after the deletion"


RUNNER = r"""
import os
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
for path in ("/etc/chaosgate/target.yaml", sa + "/token", sa + "/ca.crt", sa + "/namespace"):
    print(path, "=", repr(open(path).read()))
open("/reports/verdict.txt", "w").write("gate passed")
print("sink token", oct(os.stat("/etc/notification-sink/token").st_mode & 0o777))
"""
READER = r"""
import time
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        print("reader saw", open("/shared/verdict.txt").read())
        print("audience token", open("/var/run/secrets/tokens/sink.jwt").read())
        break
    except FileNotFoundError:
        time.sleep(0.05)
"""


@pytest.mark.tools
@pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root here")
def test_the_runners_pod_sees_its_target_file_token_and_reports_dir(
    node: NodeContext, api: FakeApi, tmp_path: Path
) -> None:
    pod = _pod(
        [
            _python(
                "runner",
                RUNNER,
                [
                    {"name": "target", "mountPath": "/etc/chaosgate", "readOnly": True},
                    {"name": "reports", "mountPath": "/reports"},
                    {"name": "token", "mountPath": "/etc/notification-sink", "readOnly": True},
                    SA_MOUNT,
                ],
            ),
            _python(
                "reader",
                READER,
                [
                    {"name": "reports", "mountPath": "/shared"},
                    {"name": "sink-jwt", "mountPath": "/var/run/secrets/tokens"},
                ],
            ),
        ],
        [
            {"name": "target", "configMap": {"name": "chaosgate-target"}},
            {"name": "reports", "emptyDir": {"sizeLimit": "2Gi"}},
            {
                "name": "token",
                "secret": {
                    "secretName": "notification-sink-token",
                    "items": [{"key": "token", "path": "token"}],
                    "defaultMode": 256,
                },
            },
            KUBE_API_ACCESS,
            {
                "name": "sink-jwt",
                "projected": {
                    "sources": [
                        {
                            "serviceAccountToken": {
                                "audience": "notification-sink",
                                "expirationSeconds": 600,
                                "path": "sink.jwt",
                            }
                        }
                    ]
                },
            },
        ],
    )
    with Worker(pod, node) as worker:
        wait_until(
            lambda: api.last_status().get("phase") == "Succeeded",
            timeout_s=20,
            message=lambda: f"the pod to succeed; last status {api.last_status()}",
        )
        logs = node.config.container_log_dir
        runner_log = (logs / f"{NS}_gate-abc_runner.log").read_text()
        assert "/etc/chaosgate/target.yaml = 'name: cluster\\n'" in runner_log
        assert f"{SA_DIR}/token = 'token-of-chaosgate-runner-uid-gate-1'" in runner_log
        assert f"{SA_DIR}/ca.crt = '-----BEGIN CERTIFICATE-----\\nCA\\n'" in runner_log
        assert f"{SA_DIR}/namespace = 'chaosgate'" in runner_log
        assert "sink token 0o400" in runner_log
        reader_log = (logs / f"{NS}_gate-abc_reader.log").read_text()
        assert "reader saw gate passed" in reader_log
        assert "audience token token-of-chaosgate-runner-uid-gate-1" in reader_log
        bound = {"apiVersion": "v1", "kind": "Pod", "name": "gate-abc", "uid": "uid-gate-1"}
        requests = sorted(api.token_requests, key=lambda r: r[1]["spec"]["audiences"])
        assert requests == [
            (
                "chaosgate-runner",
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {"audiences": [], "expirationSeconds": 3607, "boundObjectRef": bound},
                },
            ),
            (
                "chaosgate-runner",
                {
                    "apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenRequest",
                    "spec": {
                        "audiences": ["notification-sink"],
                        "expirationSeconds": 600,
                        "boundObjectRef": bound,
                    },
                },
            ),
        ]
        reports = worker.worker.pod_dir / "volumes" / "reports" / "verdict.txt"
        assert reports.read_text() == "gate passed"
        worker.delete()
    assert api.deleted == ["gate-abc"]
    assert not worker.worker.pod_dir.exists()  # the pod's emptyDir went with the pod
    assert not os.path.lexists("/etc/chaosgate") and not os.path.lexists("/reports")


@pytest.mark.tools
@pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root here")
def test_an_exec_probe_runs_where_the_container_sees_its_volumes(
    node: NodeContext, api: FakeApi
) -> None:
    container = _python(
        "runner",
        "import time; time.sleep(30)",
        [{"name": "target", "mountPath": "/etc/chaosgate", "readOnly": True}],
    )
    container["readinessProbe"] = {
        "exec": {"command": ["test", "-f", "/etc/chaosgate/target.yaml"]},
        "periodSeconds": 1,
    }
    pod = _pod([container], [{"name": "target", "configMap": {"name": "chaosgate-target"}}])

    def ready() -> bool:
        statuses = api.last_status().get("containerStatuses") or [{}]
        return bool(statuses[0].get("ready"))

    with Worker(pod, node) as worker:
        wait_until(ready, timeout_s=15, message=lambda: f"readiness; {api.last_status()}")
        assert not os.path.lexists("/etc/chaosgate")  # the probe saw the container's file
        worker.delete()


def test_a_volume_source_the_node_does_not_run_fails_the_pod_with_an_event(
    node: NodeContext, api: FakeApi
) -> None:
    pod = _pod(
        [_python("runner", "print('never')", [{"name": "reports", "mountPath": "/reports"}])],
        [{"name": "reports", "persistentVolumeClaim": {"claimName": "gate-reports"}}],
    )
    with Worker(pod, node) as worker:
        wait_until(
            lambda: api.last_status().get("phase") == "Failed",
            timeout_s=10,
            message=lambda: f"the pod to fail; last status {api.last_status()}",
        )
        status = api.last_status()
        assert status["reason"] == "UnsupportedVolume"
        assert status["message"].startswith(
            "Pod was rejected: volume 'reports' (persistentVolumeClaim) is not run by this node"
        )
        (event,) = api.events
        assert event["type"] == "Warning" and event["reason"] == "FailedMount"
        assert event["involvedObject"]["uid"] == "uid-gate-1"
        assert "persistentVolumeClaim" in event["message"]
        worker.delete()
    assert not (node.config.container_log_dir / f"{NS}_gate-abc_runner.log").exists()


def test_a_missing_config_map_keeps_the_container_waiting_with_what_is_missing(
    node: NodeContext, api: FakeApi
) -> None:
    del api.config_maps["chaosgate-target"]
    pod = _pod(
        [_python("runner", "print('never')", [{"name": "target", "mountPath": "/etc/chaosgate"}])],
        [{"name": "target", "configMap": {"name": "chaosgate-target"}}],
    )

    def waiting() -> dict[str, Any]:
        statuses = api.last_status().get("containerStatuses") or [{}]
        found: dict[str, Any] = statuses[0].get("state", {}).get("waiting") or {}
        return found

    with Worker(pod, node):
        wait_until(
            lambda: waiting().get("reason") == "CreateContainerConfigError",
            timeout_s=10,
            message=lambda: f"the container to wait for its ConfigMap; last {api.last_status()}",
        )
        assert waiting()["message"] == (
            "configmap \"chaosgate-target\" in namespace 'chaosgate' not found (volume "
            "'target'); create it or mark the source optional"
        )
        assert api.last_status()["phase"] == "Pending"
