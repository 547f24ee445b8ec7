"""The list+watch loop against a scripted API server on loopback (pytest-httpserver, faked at
the HTTP level; the real kubernetes client makes the requests)."""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from kubernetes.client import ApiClient, Configuration, CoreV1Api
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from refstack.proxy.model import PodInfo, pod_info
from refstack.proxy.watcher import ListWatcher
from tests.support.waiting import wait_until

Reply = Callable[[], Response]


def raw_pod(name: str, version: str, ip: str = "127.1.0.2") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "restaurant", "resourceVersion": version},
        "spec": {"containers": [{"name": "main", "image": "x"}]},
        "status": {"podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]},
    }


def send_json(status: int, body: object) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def pod_list(version: str, *pods: dict[str, Any]) -> Reply:
    body = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": version}}
    return lambda: send_json(200, {**body, "items": list(pods)})


def events(*lines: dict[str, Any], hold: threading.Event | None = None) -> Reply:
    """A watch response: these events, then the server ends it (or holds it open)."""

    def stream() -> Iterator[bytes]:
        for line in lines:
            yield json.dumps(line).encode() + b"\n"
        if hold is not None:
            hold.wait(10)

    return lambda: Response(stream(), status=200, content_type="application/json")


def failure(status: int) -> Reply:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status}
    return lambda: send_json(status, body)


class ScriptedApi:
    """The API server's answers, one reply of the script per request (a 500 once it is used
    up), served by pytest-httpserver; each request's path and query are kept."""

    def __init__(self, server: HTTPServer, script: Sequence[Reply]) -> None:
        self.script = deque(script)
        self.requests: list[dict[str, str]] = []
        server.expect_request(re.compile(".*"), method="GET").respond_with_handler(self._answer)

    def _answer(self, request: Request) -> Response:
        self.requests.append({"path": request.path, **request.args.to_dict()})
        if not self.script:
            return send_json(500, {"message": "script exhausted"})
        return self.script.popleft()()


class RecordingSink:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()

    def replaced(self, kind: str, items: Sequence[PodInfo]) -> None:
        with self.lock:
            self.calls.append(("replaced", kind, sorted(pod.name for pod in items)))

    def changed(self, kind: str, event: str, item: PodInfo) -> None:
        with self.lock:
            self.calls.append(("changed", kind, event, item.name))

    def lost(self, kind: str, reason: str) -> None:
        with self.lock:
            self.calls.append(("lost", kind, reason))

    def snapshot(self) -> list[tuple[Any, ...]]:
        with self.lock:
            return list(self.calls)


@pytest.fixture()
def api_server(
    httpserver: HTTPServer,
) -> Callable[[Sequence[Reply]], tuple[ScriptedApi, CoreV1Api]]:
    def start(script: Sequence[Reply]) -> tuple[ScriptedApi, CoreV1Api]:
        configuration = Configuration(host=httpserver.url_for("").rstrip("/"))
        return ScriptedApi(httpserver, script), CoreV1Api(ApiClient(configuration))

    return start


def test_lists_watches_resumes_relists_on_gone_and_recovers_from_errors(
    api_server: Callable[[Sequence[Reply]], tuple[ScriptedApi, CoreV1Api]],
) -> None:
    hold = threading.Event()
    gone = {
        "type": "ERROR",
        "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
    }
    server, core = api_server(
        [
            pod_list("10", raw_pod("a", "9")),
            events(
                {"type": "ADDED", "object": raw_pod("b", "11")},
                {"type": "MODIFIED", "object": raw_pod("b", "12", ip="127.1.0.3")},
                {
                    "type": "BOOKMARK",
                    "object": {"kind": "Pod", "metadata": {"resourceVersion": "15"}},
                },
            ),
            events({"type": "DELETED", "object": raw_pod("a", "16")}),
            events(gone),
            pod_list("20", raw_pod("b", "12")),
            failure(500),
            pod_list("30", raw_pod("b", "12"), raw_pod("c", "29")),
            events(hold=hold),
        ]
    )
    sink = RecordingSink()
    watcher = ListWatcher(
        "pods", core.list_pod_for_all_namespaces, pod_info, sink, backoff_s=(0.01, 0.05)
    )
    watcher.start()
    try:
        wait_until(lambda: len(server.requests) == 8, timeout_s=10, message="the whole script")
        wait_until(lambda: len(sink.snapshot()) == 7, timeout_s=10, message="every report")
    finally:
        hold.set()
        watcher.stop()

    assert sink.snapshot()[:6] == [
        ("replaced", "pods", ["a"]),
        ("changed", "pods", "ADDED", "b"),
        ("changed", "pods", "MODIFIED", "b"),
        ("changed", "pods", "DELETED", "a"),
        ("replaced", "pods", ["b"]),  # the 410 re-lists without reporting a loss
        ("lost", "pods", sink.snapshot()[5][2]),
    ]
    assert "500" in sink.snapshot()[5][2]
    assert sink.snapshot()[6] == ("replaced", "pods", ["b", "c"])

    # resumed from the list, the bookmark and the last event; after the 410 and the 500 from
    # the next list's version
    assert [r.get("resourceVersion") for r in server.requests if r.get("watch")] == [
        "10",
        "15",
        "16",
        "20",
        "30",
    ]
    assert all(r["path"] == "/api/v1/pods" for r in server.requests)
    watches = [r for r in server.requests if r.get("watch")]
    assert all(r.get("allowWatchBookmarks") == "true" and "timeoutSeconds" in r for r in watches)


def test_an_unreachable_api_server_is_reported_lost_and_retried(
    api_server: Callable[[Sequence[Reply]], tuple[ScriptedApi, CoreV1Api]],
) -> None:
    hold = threading.Event()
    _, core = api_server([failure(503), failure(503), pod_list("5"), events(hold=hold)])
    sink = RecordingSink()
    watcher = ListWatcher(
        "pods", core.list_pod_for_all_namespaces, pod_info, sink, backoff_s=(0.01, 0.05)
    )
    watcher.start()
    try:
        wait_until(lambda: len(sink.snapshot()) == 3, timeout_s=10, message="two losses and a list")
    finally:
        hold.set()
        watcher.stop()
    calls = sink.snapshot()
    assert [call[0] for call in calls] == ["lost", "lost", "replaced"]
    assert "503" in calls[0][2]
