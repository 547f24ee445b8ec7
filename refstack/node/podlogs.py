"""Which run of which container a kubelet API log request reads, found through the pod
workers, with the kubelet's answers when there is none.

As the kubelet does, the choice follows the container's status. The current log is the latest
run's: the one running, the one that ended for good, or, while the container waits to restart,
the one that just ended (the kubelet too serves that one then). ``previous`` is the run the
status's ``lastState`` describes: the one before the running or finished run, or, while the
container waits to restart, the one that just ended. The runs are told apart by the byte
offsets :mod:`.logfiles` records.

The answers when there is no such run are the kubelet's: ``pod "x" does not exist`` and
``container "c" not found in pod "x"`` (404); ``container "c" in pod "x" is waiting to start:
<reason>`` and ``previous terminated container "c" in pod "x" not found`` (400). A pod whose
containers have all ended (a Job's) keeps its worker, and so its logs, until the pod object is
deleted; a pod an earlier agent saw end (no runner now) is served from its stored status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from refstack.node.logfiles import RunLog, container_log_path, run_starts, runs_record_path
from refstack.node.logquery import LogError
from refstack.node.manager import PodManager
from refstack.node.pods import PodWorker
from refstack.node.podstatus import ContainerView, Running, Terminated

__all__ = ["LogStatus", "PodLogs", "pick_run", "status_of_view", "stored_status"]


@dataclass(frozen=True)
class LogStatus:
    """What a container's status says about its runs."""

    state: Literal["running", "terminated", "waiting"]
    reason: str = ""  # why it waits
    has_previous: bool = False  # lastState.terminated is set


def status_of_view(view: ContainerView) -> LogStatus:
    has_previous = view.last_state is not None
    if isinstance(view.state, Running):
        return LogStatus("running", has_previous=has_previous)
    if isinstance(view.state, Terminated):
        return LogStatus("terminated", has_previous=has_previous)
    return LogStatus("waiting", view.state.reason, has_previous)


def stored_status(container_status: Mapping[str, Any]) -> LogStatus:
    """The same from a ``containerStatuses`` entry of a stored pod status."""
    state = container_status.get("state") or {}
    has_previous = bool((container_status.get("lastState") or {}).get("terminated"))
    if state.get("running"):
        return LogStatus("running", has_previous=has_previous)
    if state.get("terminated"):
        return LogStatus("terminated", has_previous=has_previous)
    reason = str((state.get("waiting") or {}).get("reason") or "ContainerCreating")
    return LogStatus("waiting", reason, has_previous)


def _q(text: str) -> str:
    return json.dumps(text)  # Go's %q, for the names in a message


def pick_run(status: LogStatus, runs: int, *, previous: bool, pod: str, container: str) -> int:
    """The index of the run to serve among ``runs`` recorded (0: a log without a record is
    one run); raises LogError (400) when the status has no such run."""
    runs = max(runs, 1)
    if previous:
        index = runs - 1 if status.state == "waiting" else runs - 2
        if not status.has_previous or index < 0:
            raise LogError(
                400, f"previous terminated container {_q(container)} in pod {_q(pod)} not found"
            )
        return index
    if status.state == "waiting" and not status.has_previous:
        reason = {
            "ErrImagePull": "image can't be pulled",
            "ImagePullBackOff": "trying and failing to pull image",
        }.get(status.reason, status.reason)
        raise LogError(
            400, f"container {_q(container)} in pod {_q(pod)} is waiting to start: {reason}"
        )
    return runs - 1


class _ContainerRun:
    """One run of a container's log (a :class:`~.logfiles.RunLog`)."""

    def __init__(
        self,
        path: Path,
        record: Path,
        index: int,
        recorded: bool,
        status: Callable[[], LogStatus | None],
    ) -> None:
        self._path = path
        self._record = record
        self._index = index
        self._recorded = recorded
        self._status = status
        starts = run_starts(record) if recorded else []
        self._start = starts[index] if index < len(starts) else 0

    @property
    def path(self) -> Path:
        return self._path

    @property
    def start(self) -> int:
        return self._start

    def _next_start(self) -> int | None:
        if not self._recorded:
            return None
        starts = run_starts(self._record)
        return starts[self._index + 1] if self._index + 1 < len(starts) else None

    def end(self) -> int | None:
        # asked in this order so that a run that ends, or a next run that starts, between two
        # of the reads is still seen: status, record, the file's size, the record again
        status = self._status()
        following = self._next_start()
        if following is not None:
            return following
        try:
            size = self._path.stat().st_size
        except FileNotFoundError:
            size = 0
        following = self._next_start()
        if following is not None:
            return min(following, size)
        if status is not None and status.state == "running":
            return None
        return size


class PodLogs:
    """Finds the run a request asks for among this node's pods (see the module's doc)."""

    def __init__(self, manager: PodManager, log_dir: Path) -> None:
        self._manager = manager
        self._log_dir = log_dir

    def find(self, namespace: str, pod: str, container: str, *, previous: bool) -> RunLog:
        worker = self._manager.find(namespace, pod)
        if worker is None:
            raise LogError(404, f"pod {_q(pod)} does not exist")
        spec = worker.pod.get("spec") or {}
        if container not in [str(c.get("name")) for c in spec.get("containers") or ()]:
            raise LogError(404, f"container {_q(container)} not found in pod {_q(pod)}")

        def status_now() -> LogStatus | None:
            return _status(worker, container) if self._manager.has(worker.uid) else None

        status = status_now()
        if status is None:
            raise LogError(404, f"pod {_q(pod)} does not exist")
        record = runs_record_path(worker.pod_dir, container)
        runs = len(run_starts(record))
        index = pick_run(status, runs, previous=previous, pod=pod, container=container)
        path = container_log_path(self._log_dir, namespace, pod, container)
        return _ContainerRun(path, record, index, runs > 0, status_now)


def _status(worker: PodWorker, container: str) -> LogStatus:
    view = worker.container_view(container)
    if view is not None:
        return status_of_view(view)
    for stored in (worker.pod.get("status") or {}).get("containerStatuses") or ():
        if stored.get("name") == container:
            return stored_status(stored)
    return LogStatus("waiting", "ContainerCreating")
