"""The pod workers of this node, one per pod UID, fed by the pod watch's events."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from refstack.node.pods import NodeContext, PodWorker

__all__ = ["PodManager"]


class PodManager:
    """Keeps one :class:`PodWorker` per pod UID, from the watch's events."""

    def __init__(self, node: NodeContext) -> None:
        self._node = node
        self._workers: dict[str, PodWorker] = {}
        self._lock = threading.Lock()
        self._stopping = False

    def _done(self, uid: str) -> None:
        with self._lock:
            self._workers.pop(uid, None)

    def upsert(self, pod: dict[str, Any]) -> None:
        uid = str(pod["metadata"]["uid"])
        with self._lock:
            if self._stopping:
                return
            worker = self._workers.get(uid)
            if worker is None:
                worker = PodWorker(pod, self._node, self._done)
                self._workers[uid] = worker
                worker.start()
                return
        worker.update(pod)

    def deleted(self, pod: Mapping[str, Any]) -> None:
        with self._lock:
            worker = self._workers.get(str(pod["metadata"]["uid"]))
        if worker is not None:
            worker.gone()

    def resync(self, pods: list[dict[str, Any]]) -> None:
        """The full list of this node's pods: start the new, stop those no longer there."""
        listed = {str(p["metadata"]["uid"]) for p in pods}
        with self._lock:
            missing = [w for uid, w in self._workers.items() if uid not in listed]
        for worker in missing:
            worker.gone()
        for pod in pods:
            self.upsert(pod)

    def workers(self) -> list[PodWorker]:
        with self._lock:
            return list(self._workers.values())

    def find(self, namespace: str, name: str) -> PodWorker | None:
        """The worker of pod ``namespace/name`` (of the newest such pod, while an older one
        with its name is still being deleted); None when this node has no such pod."""
        label = f"{namespace}/{name}"
        with self._lock:
            found = [w for w in self._workers.values() if w.label == label]
        return found[-1] if found else None

    def has(self, uid: str) -> bool:
        """Whether the pod ``uid`` still has its worker (the pod object exists)."""
        with self._lock:
            return uid in self._workers

    def shutdown(self, grace_s: float, timeout_s: float) -> bool:
        """Stop every pod's containers; True when all workers finished in time."""
        with self._lock:
            self._stopping = True
            workers = list(self._workers.values())
        for worker in workers:
            worker.shutdown(grace_s)
        deadline = time.monotonic() + timeout_s
        finished = [worker.join(max(0.0, deadline - time.monotonic())) for worker in workers]
        return all(finished)
