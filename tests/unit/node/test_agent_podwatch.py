"""List + watch of the node's pods against a scripted API server on loopback (pytest-httpserver;
transport only)."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest
from kubernetes import client
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

from refstack.node.kubeapi import PodApi
from refstack.node.podwatch import PodWatch
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

    def __call__(self, request: Request) -> Response:
        query = request.args.to_dict(flat=False)
        self.requests.append(query)
        assert request.path == "/api/v1/pods"
        if query.get("watch") == ["true"]:
            lines = [json.dumps(e) for e in self.watches.get(query["resourceVersion"][0], [])]
            time.sleep(0.05)
            body = "\n".join(lines) + "\n" if lines else ""
        else:
            items, version = self.lists.pop(0) if self.lists else ([], "99")
            body = json.dumps(
                {
                    "kind": "PodList",
                    "apiVersion": "v1",
                    "items": items,
                    "metadata": {"resourceVersion": version},
                }
            )
        return Response(body, status=200, content_type="application/json")


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
def fake_api(httpserver: HTTPServer) -> tuple[FakeApi, client.ApiClient]:
    api = FakeApi()
    httpserver.expect_request(re.compile(".*"), method="GET").respond_with_handler(api)
    configuration = client.Configuration(host=httpserver.url_for("").rstrip("/"))
    return api, client.ApiClient(configuration)


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
