"""The pods bound to this node, followed with list + watch.

A list gives the full set (handed to :meth:`PodManager.resync`, which also notices pods that
vanished while nobody watched) and a resourceVersion; a watch from there streams the changes.
Each watch request is bounded (the server ends it after ``WATCH_TIMEOUT_S``) and resumed from
the last resourceVersion seen (bookmarks included); when that version has expired (HTTP 410)
or anything fails, the loop lists again, after a short back-off for errors.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from kubernetes import client, watch

from refstack.node.kubeapi import PodApi, is_status

__all__ = ["PodWatch"]

_log = logging.getLogger(__name__)
WATCH_TIMEOUT_S = 60
RETRY_MAX_S = 10.0


class PodSink(Protocol):
    def upsert(self, pod: dict[str, Any]) -> None: ...

    def deleted(self, pod: dict[str, Any]) -> None: ...

    def resync(self, pods: list[dict[str, Any]]) -> None: ...


class PodWatch:
    def __init__(
        self, api_client: client.ApiClient, pods: PodApi, node_name: str, sink: PodSink
    ) -> None:
        self._core = client.CoreV1Api(api_client)
        self._pods = pods
        self._selector = f"spec.nodeName={node_name}"
        self._sink = sink
        self._stop = threading.Event()
        self.synced = threading.Event()  # set after the first successful list

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                items, version = self._pods.list_pods(self._selector)
                self._sink.resync(items)
                self.synced.set()
                self._watch(version)
                delay = 0.5
            except Exception as exc:
                if is_status(exc, 410):
                    _log.info("pod watch expired, listing again")
                    continue
                _log.warning("pod list/watch failed (retrying in %gs): %s", delay, exc)
                self._stop.wait(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    def _watch(self, version: str) -> None:
        while not self._stop.is_set():
            stream = watch.Watch()  # type: ignore[no-untyped-call]
            for event in stream.stream(  # type: ignore[no-untyped-call]
                self._core.list_pod_for_all_namespaces,
                field_selector=self._selector,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_TIMEOUT_S,
                _request_timeout=WATCH_TIMEOUT_S + 10,
            ):
                pod: dict[str, Any] = event["raw_object"]
                version = str(pod.get("metadata", {}).get("resourceVersion") or version)
                kind = event["type"]
                if kind in ("ADDED", "MODIFIED"):
                    self._sink.upsert(pod)
                elif kind == "DELETED":
                    self._sink.deleted(pod)
                if self._stop.is_set():
                    stream.stop()  # type: ignore[no-untyped-call]
                    break
