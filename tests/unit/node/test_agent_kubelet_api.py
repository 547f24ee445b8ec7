"""The kubelet API's container logs over real TLS on 127.0.0.1, with certificates from the
stack's own PKI code, served from real pod workers running real processes. The API server the
workers report to is scripted on loopback (pytest-httpserver; transport only)."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from refstack.launcher.k8s_pki import ClusterPki, ensure_pki
from refstack.node.clock import SystemClock
from refstack.node.ipam import PodIpPool
from refstack.node.kubeapi import PodApi
from refstack.node.kubelet_api import KubeletApiServer, server_tls_context
from refstack.node.manager import PodManager
from refstack.node.podlogs import PodLogs
from refstack.node.pods import NodeContext
from refstack.node_config import ImageSpec, NodeConfig
from tests.support.waiting import wait_until

NS = "restaurant"


class FakeApi:
    """What pod workers ask of the API server; the last status of each pod kept."""

    def __init__(self) -> None:
        self.statuses: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        if request.path.endswith("/services"):
            return self._json({"kind": "ServiceList", "items": []})
        match = re.fullmatch(rf"/api/v1/namespaces/{NS}/pods/([^/]+)(/status)?", request.path)
        assert match, f"unexpected {request.method} {request.path}"
        if request.method == "PATCH":
            with self._lock:
                self.statuses[match.group(1)] = json.loads(request.get_data())["status"]
        return self._json({"kind": "Pod", "apiVersion": "v1", "metadata": {}})

    @staticmethod
    def _json(body: dict[str, Any]) -> Response:
        return Response(json.dumps(body), content_type="application/json")

    def phase(self, pod: str) -> str | None:
        with self._lock:
            return (self.statuses.get(pod) or {}).get("phase")

    def restarts(self, pod: str) -> int:
        with self._lock:
            statuses = (self.statuses.get(pod) or {}).get("containerStatuses") or [{}]
        return int(statuses[0].get("restartCount") or 0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ClusterPki:
    return ensure_pki(tmp_path_factory.mktemp("pki"), service_ip="10.96.0.1")


@pytest.fixture()
def api(httpserver: HTTPServer) -> FakeApi:
    fake = FakeApi()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake)
    return fake


@pytest.fixture()
def manager(httpserver: HTTPServer, tmp_path: Path, api: FakeApi) -> Iterator[PodManager]:
    api_client = client.ApiClient(client.Configuration(host=httpserver.url_for("").rstrip("/")))
    config = NodeConfig(
        kubeconfig=tmp_path / "kubeconfig",
        state_dir=tmp_path / "state",
        container_log_dir=tmp_path / "logs",
        images={"chaosgate/test": ImageSpec(path=("/usr/bin", "/bin"))},
    )
    with httpx.Client() as probe_http:
        node = NodeContext(
            config=config,
            api=PodApi(api_client),
            pool=PodIpPool(config.pod_cidr, reserved=[config.node_ip]),
            clock=SystemClock(),
            probe_http=probe_http,
            allocatable={},
            agent_env={"PATH": "/usr/bin:/bin"},
        )
        pods = PodManager(node)
        yield pods
        assert pods.shutdown(0.2, timeout_s=10)


@pytest.fixture()
def kubelet(pki: ClusterPki, manager: PodManager, tmp_path: Path) -> Iterator[str]:
    """The kubelet API's base URL."""
    context = server_tls_context(pki.serving_cert, pki.serving_key, pki.ca_cert)
    logs = PodLogs(manager, tmp_path / "logs")
    server = KubeletApiServer("127.0.0.1", 0, context, logs.find, poll_s=0.05)
    server.start()
    yield f"https://127.0.0.1:{server.port}"
    server.stop()


def _tls(pki: ClusterPki, *, cert: bool = True) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=pki.ca_cert)
    if cert:
        context.load_cert_chain(pki.kubelet_client_cert, pki.kubelet_client_key)
    return context


@pytest.fixture()
def http(pki: ClusterPki) -> Iterator[httpx.Client]:
    with httpx.Client(verify=_tls(pki), timeout=10, trust_env=False) as session:
        yield session


def _pod(name: str, script: str, policy: str = "Never") -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}"},
        "spec": {
            "restartPolicy": policy,
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "main", "image": "chaosgate/test:1", "command": ["sh", "-c", script]}
            ],
        },
        "status": {"phase": "Pending"},
    }


def _logs(kubelet: str, pod: str, query: str = "", container: str = "main") -> str:
    return f"{kubelet}/containerLogs/{NS}/{pod}/{container}{'?' + query if query else ''}"


def test_a_finished_jobs_pod_still_serves_its_log(
    manager: PodManager, api: FakeApi, kubelet: str, http: httpx.Client
) -> None:
    manager.upsert(_pod("job-1", "echo line 1; echo line 2; echo line 3 >&2"))
    wait_until(lambda: api.phase("job-1") == "Succeeded", timeout_s=10, message="the job")
    answer = http.get(_logs(kubelet, "job-1"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain"
    assert answer.text == "line 1\nline 2\nline 3\n"  # stdout and stderr, in order
    assert http.get(_logs(kubelet, "job-1", "tailLines=2")).text == "line 2\nline 3\n"
    assert http.get(_logs(kubelet, "job-1", "tailLines=2&limitBytes=8")).text == "line 2\nl"
    assert http.get(_logs(kubelet, "job-1", "follow=true")).text == answer.text
    previous = http.get(_logs(kubelet, "job-1", "previous=true"))
    assert previous.status_code == 400
    assert previous.text == 'previous terminated container "main" in pod "job-1" not found\n'


def test_previous_is_the_run_before_the_restart(
    manager: PodManager, api: FakeApi, kubelet: str, http: httpx.Client
) -> None:
    script = (
        "if [ -e marker ]; then echo second run; exec sleep 30; "
        "else touch marker; echo first run; exit 3; fi"
    )
    manager.upsert(_pod("crash-1", script, policy="OnFailure"))
    url = _logs(kubelet, "crash-1")
    wait_until(
        lambda: api.restarts("crash-1") == 1 and http.get(url).text == "second run\n",
        timeout_s=10,
        message=lambda: f"a restart; log {http.get(url).text!r}",
    )
    assert http.get(_logs(kubelet, "crash-1", "previous=true")).text == "first run\n"


def test_follow_streams_until_the_container_exits(
    manager: PodManager, kubelet: str, http: httpx.Client
) -> None:
    script = "echo ready; sleep 0.3; for i in 1 2 3; do echo tick $i; sleep 0.05; done"
    manager.upsert(_pod("talker", script))
    url = _logs(kubelet, "talker", "follow=true")
    wait_until(
        lambda: http.get(_logs(kubelet, "talker")).text.startswith("ready"),
        timeout_s=10,
        message="the container's first line",
    )
    chunks: list[str] = []
    started = time.monotonic()
    with http.stream("GET", url) as answer:
        assert answer.status_code == 200
        chunks.extend(answer.iter_text())
    assert "".join(chunks) == "ready\ntick 1\ntick 2\ntick 3\n"
    assert len(chunks) > 1, "the lines came as the container wrote them"
    assert time.monotonic() - started < 5


def _handler_threads() -> int:
    return sum("process_request" in t.name for t in threading.enumerate())


def test_a_follow_ends_when_the_client_goes_away(
    pki: ClusterPki, manager: PodManager, kubelet: str, http: httpx.Client
) -> None:
    manager.upsert(_pod("server", "echo serving; exec sleep 30"))
    wait_until(
        lambda: http.get(_logs(kubelet, "server")).text == "serving\n",
        timeout_s=10,
        message="the container's first line",
    )
    before = _handler_threads()
    port = int(kubelet.rsplit(":", 1)[1])
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        _tls(pki).wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        path = f"/containerLogs/{NS}/server/main?follow=true"
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        head = tls.recv(4096)
        while b"serving" not in head:
            head += tls.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        assert _handler_threads() == before + 1
    wait_until(lambda: _handler_threads() == before, timeout_s=3, message="the follow to end")


def test_unknown_pods_and_containers_are_404(
    manager: PodManager, kubelet: str, http: httpx.Client
) -> None:
    manager.upsert(_pod("job-2", "echo done"))
    nope = http.get(_logs(kubelet, "nope"))
    assert (nope.status_code, nope.text) == (404, 'pod "nope" does not exist\n')
    other = http.get(_logs(kubelet, "job-2", container="sidecar"))
    assert (other.status_code, other.text) == (
        404,
        'container "sidecar" not found in pod "job-2"\n',
    )
    assert http.get(f"{kubelet}/exec/{NS}/job-2/main").status_code == 404
    assert http.get(f"{kubelet}/containerLogs/{NS}/job-2").status_code == 400
    since = http.get(_logs(kubelet, "job-2", "sinceSeconds=10"))
    assert since.status_code == 400 and "no timestamps" in since.text


def test_a_client_without_a_certificate_is_refused(
    pki: ClusterPki, manager: PodManager, kubelet: str
) -> None:
    manager.upsert(_pod("job-3", "echo secret"))
    with httpx.Client(verify=_tls(pki, cert=False), timeout=5, trust_env=False) as anonymous:
        answer = anonymous.get(_logs(kubelet, "job-3"))
    assert answer.status_code == 401
    assert "client certificate signed by the cluster CA" in answer.text


def test_a_certificate_from_another_ca_fails_the_handshake(
    pki: ClusterPki, manager: PodManager, kubelet: str, tmp_path: Path
) -> None:
    manager.upsert(_pod("job-4", "echo secret"))
    stranger = ensure_pki(tmp_path / "other-pki", service_ip="10.96.0.1")
    context = ssl.create_default_context(cafile=pki.ca_cert)
    context.load_cert_chain(stranger.kubelet_client_cert, stranger.kubelet_client_key)
    with (
        httpx.Client(verify=context, timeout=5, trust_env=False) as impostor,
        pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
    ):
        impostor.get(_logs(kubelet, "job-4"))
