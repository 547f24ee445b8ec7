"""List + watch of the node's pods against a scripted API server on loopback (transport only)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from kubernetes import client

from chaosgate.k8s.agent.kubeapi import PodApi
from chaosgate.k8s.agent.podwatch import PodWatch
from tests.support.waiting import wait_until


def _pod(name: str, rv: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": rv}
    }


class FakeApi:
    """Answers pod lists and watches from a script, and remembers every request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.lists = [([_pod("a", "10")], "10"), ([_pod("b", "20")], "20")]
        self.watches: dict[str, list[dict[str, Any]]] = {
            "10": [
                {"type": "MODIFIED", "object": _pod("a", "11")},
                {
                    "type": "ERROR",
                    "object": {
                        "kind": "Status",
                        "code": 410,
                        "reason": "Expired",
                        "message": "too old resource version: 10",
                    },
                },
            ],
            "20": [
                {"type": "ADDED", "object": _pod("c", "21")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "25"}}},
            ],
            "25": [{"type": "DELETED", "object": _pod("c", "26")}],
        }

    def handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                query = parse_qs(url.query)
                api.requests.append(query)
                assert url.path == "/api/v1/pods"
                if query.get("watch") == ["true"]:
                    lines = [
                        json.dumps(e) for e in api.watches.get(query["resourceVersion"][0], [])
                    ]
                    time.sleep(0.05)
                    body = ("\n".join(lines) + "\n").encode() if lines else b""
                else:
                    items, version = api.lists.pop(0) if api.lists else ([], "99")
                    body = json.dumps(
                        {
                            "kind": "PodList",
                            "apiVersion": "v1",
                            "items": items,
                            "metadata": {"resourceVersion": version},
                        }
                    ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        return Handler


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def upsert(self, pod: dict[str, Any]) -> None:
        self.calls.append(("upsert", (pod["metadata"]["name"], pod["metadata"]["resourceVersion"])))

    def deleted(self, pod: dict[str, Any]) -> None:
        self.calls.append(("deleted", pod["metadata"]["name"]))

    def resync(self, pods: list[dict[str, Any]]) -> None:
        self.calls.append(("resync", [p["metadata"]["name"] for p in pods]))


@pytest.fixture()
def fake_api() -> Iterator[tuple[FakeApi, client.ApiClient]]:
    api = FakeApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), api.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    configuration = client.Configuration(host=f"http://127.0.0.1:{server.server_address[1]}")
    api_client = client.ApiClient(configuration)
    yield api, api_client
    server.shutdown()
    server.server_close()


def test_list_watch_relists_on_410_and_resumes_after_bookmarks(
    fake_api: tuple[FakeApi, client.ApiClient],
) -> None:
    api, api_client = fake_api
    sink = Recorder()
    watch = PodWatch(api_client, PodApi(api_client), "node-1", sink)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    wait_until(
        lambda: ("deleted", "c") in sink.calls,
        timeout_s=10,
        message=lambda: f"the deletion of c; the sink has {sink.calls}",
    )
    watch.stop()
    thread.join(5)
    assert sink.calls[:5] == [
        ("resync", ["a"]),
        ("upsert", ("a", "11")),
        ("resync", ["b"]),  # the 410 made it list again
        ("upsert", ("c", "21")),
        ("deleted", "c"),
    ]
    assert watch.synced.is_set()
    selectors = {tuple(r["fieldSelector"]) for r in api.requests}
    assert selectors == {("spec.nodeName=node-1",)}
    versions = [r["resourceVersion"][0] for r in api.requests if r.get("watch") == ["true"]]
    assert versions[:3] == ["10", "20", "25"]  # the bookmark moved the watch on
