"""One worker thread per pod bound to this node: runs its containers, reports its status,
and carries out its deletion.

A worker ticks twice a second (and at once when its pod changes): it steps each container,
builds the pod status and patches ``pods/status`` when it changed. When the pod gets a
``deletionTimestamp`` its containers get SIGTERM, SIGKILL after the grace period, the final
status is written and the pod object is deleted (grace 0, UID precondition), as the kubelet
does. A pod deleted outright has its processes killed at once. When the agent stops, every
container is stopped and the pod is left for the next agent to start afresh.

A container with volumeMounts starts in a mount namespace of its own holding its volumes
(:mod:`.podvolumes`, :mod:`.volumes`, :mod:`.mountns`); elsewhere it sees this machine's file
system. A pod with a volume source this node does not run is never started: it is Failed
with reason ``UnsupportedVolume`` and a Warning Event ``FailedMount`` naming the volume.
Not done here: init containers (skipped, with a warning) and Events other than that one.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from refstack.node.clock import Clock
from refstack.node.containers import ContainerRunner, Launch, RunnerContext
from refstack.node.ipam import PodIpExhaustedError, PodIpPool
from refstack.node.kubeapi import PodApi, is_status
from refstack.node.logfiles import container_log_path, runs_record_path
from refstack.node.podlaunch import container_launch
from refstack.node.podstatus import ContainerView, pod_status, previous_termination
from refstack.node.podvolumes import rejected_status
from refstack.node.volumes import unsupported_volumes
from refstack.node_config import ImageSpec, NodeConfig, image_repository

__all__ = ["NodeContext", "PodWorker", "image_id", "pods_dir"]

_log = logging.getLogger(__name__)
TICK_S = 0.5
RESYNC_STATUS_S = 5.0  # rewrite a status someone else changed, at most this often
_OWNED_CONDITIONS = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


@dataclass(frozen=True)
class NodeContext:
    """What every pod worker shares."""

    config: NodeConfig
    api: PodApi
    pool: PodIpPool
    clock: Clock
    probe_http: httpx.Client
    allocatable: Mapping[str, str]
    agent_env: Mapping[str, str]


def image_id(repository: str, image: ImageSpec) -> str:
    """A stable image ID for a mapped image: its repository and a digest of its node spec."""
    digest = hashlib.sha256(image.model_dump_json().encode()).hexdigest()
    return f"{repository}@sha256:{digest}"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _label(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}"


class PodWorker:
    def __init__(
        self, pod: dict[str, Any], node: NodeContext, on_done: Callable[[str], None]
    ) -> None:
        self.uid = str(pod["metadata"]["uid"])
        self.label = _label(pod)
        self._pod = pod
        self._node = node
        self._on_done = on_done
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._outright = False
        self._shutdown_grace: float | None = None
        self._terminating = False
        self._runners: list[ContainerRunner] = []
        self._pod_ip: str | None = None
        self._start_time = node.clock.wall()
        self._written: dict[str, Any] | None = None
        self._rejected: str | None = None  # why the pod is refused
        self._written_at = 0.0
        phase = (pod.get("status") or {}).get("phase")
        # a pod that already ended, or is being deleted when first seen, is never started
        self._inert = phase in ("Succeeded", "Failed") or bool(
            pod["metadata"].get("deletionTimestamp")
        )
        self.pod_dir = node.config.state_dir / "pods" / self.uid
        self._thread = threading.Thread(target=self._run, name=f"pod-{self.label}", daemon=True)

    # -- from other threads ------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def update(self, pod: dict[str, Any]) -> None:
        with self._lock:
            self._pod = pod
        self._wake.set()

    def gone(self) -> None:
        """The pod object was deleted without us: kill its processes at once."""
        self._outright = True
        self._wake.set()

    def shutdown(self, grace_s: float) -> None:
        """The agent stops: stop the containers (SIGKILL after ``grace_s``), keep the pod."""
        self._shutdown_grace = grace_s
        self._wake.set()

    def join(self, timeout_s: float) -> bool:
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    @property
    def pod(self) -> dict[str, Any]:
        """The pod object as last seen."""
        with self._lock:
            return self._pod

    def container_view(self, name: str) -> ContainerView | None:
        """What container ``name`` reports now; None when no runner runs it (a pod that had
        ended, or was refused, when this agent first saw it)."""
        runner = next((r for r in list(self._runners) if r.name == name), None)
        return runner.view() if runner is not None else None

    # -- the worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        remove_dirs = True
        try:
            remove_dirs = self._loop()
        except Exception:
            _log.exception("%s: pod worker failed; killing its containers", self.label)
            for runner in self._runners:
                runner.kill()
        finally:
            self._node.pool.release(self.uid)
            if remove_dirs:
                shutil.rmtree(self.pod_dir, ignore_errors=True)
            self._on_done(self.uid)

    def _loop(self) -> bool:
        """Run the pod until it is gone (True) or the agent stops (False)."""
        while True:
            with self._lock:
                pod = self._pod
            if self._outright:
                for runner in self._runners:
                    runner.kill()
                _log.info("%s: deleted, its processes are stopped", self.label)
                return True
            if not self._inert and not self._runners:
                self._create_runners(pod)
            if self._shutdown_grace is not None and not self._terminating:
                self._terminating = True
                for runner in self._runners:
                    runner.terminate(self._shutdown_grace)
            elif pod["metadata"].get("deletionTimestamp") and not self._terminating:
                self._terminating = True
                grace = self._grace_s(pod)
                _log.info("%s: deleting, stopping containers (grace %gs)", self.label, grace)
                for runner in self._runners:
                    runner.terminate(grace)
            for runner in self._runners:
                runner.step()
            self._write_status(pod)
            if self._terminating and not any(r.alive for r in self._runners):
                if self._shutdown_grace is not None:
                    return False
                ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
                try:
                    self._node.api.delete_pod(ns, name, self.uid)
                except Exception as exc:
                    _log.warning("%s: pod not deleted yet (will retry): %s", self.label, exc)
                else:
                    _log.info("%s: containers stopped, pod deleted", self.label)
                    return True
            self._wake.wait(TICK_S)
            self._wake.clear()

    @staticmethod
    def _grace_s(pod: Mapping[str, Any]) -> float:
        grace = pod["metadata"].get("deletionGracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds")
        return float(30 if grace is None else grace)

    # -- containers ------------------------------------------------------------------------------

    def _create_runners(self, pod: dict[str, Any]) -> None:
        config = self._node.config
        spec = pod.get("spec") or {}
        old = pod.get("status") or {}
        problems = unsupported_volumes(pod)
        if problems:
            self._reject(pod, "; ".join(problems))
            return
        if spec.get("hostNetwork"):
            self._pod_ip = config.node_ip
        else:
            try:
                self._pod_ip = self._node.pool.allocate(self.uid, old.get("podIP"))
            except PodIpExhaustedError as exc:
                _log.error("%s: %s", self.label, exc)
                return
        if spec.get("initContainers"):
            _log.warning(
                "%s: init containers are not run by this node; starting the pod's "
                "containers without them",
                self.label,
            )
        before = {str(s.get("name")): s for s in old.get("containerStatuses") or ()}
        restart_policy = str(spec.get("restartPolicy") or "Always")
        grace = float(spec.get("terminationGracePeriodSeconds") or 30)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        for container in spec.get("containers") or ():
            cname = str(container["name"])
            image = config.image(str(container.get("image", "")))
            repository = image_repository(str(container.get("image", "")))
            error = None
            if image is None:
                error = (
                    f"image {container.get('image')!r} is not in the node config's `images` "
                    f"map; add its repository {repository!r} under `images:`"
                )
            previous = before.get(cname) or {}
            ran_before = bool(
                (previous.get("state") or {}).keys() & {"running", "terminated"}
                or previous.get("lastState")
            )
            context = RunnerContext(
                pod_label=self.label,
                pod_uid=self.uid,
                pod_ip=self._pod_ip,
                restart_policy=restart_policy,
                log_path=container_log_path(config.container_log_dir, ns, name, cname),
                runs_path=runs_record_path(self.pod_dir, cname),
                record_path=self.pod_dir / f"{cname}.pid",
                kill_grace_s=grace,
                start_delay_s=image.start_delay_s if image else 0.0,
                restart_count=int(previous.get("restartCount") or 0) + (1 if ran_before else 0),
                last_state=previous_termination(previous),
                probe_http=self._node.probe_http,
            )
            self._runners.append(
                ContainerRunner(
                    container,
                    image_id=image_id(repository, image) if image else "",
                    image_error=error,
                    prepare=self._preparer(container, image),
                    context=context,
                    clock=self._node.clock,
                )
            )

    def _reject(self, pod: dict[str, Any], message: str) -> None:
        self._inert = True
        self._rejected = message
        _log.error("%s: not started: %s", self.label, message)
        try:
            self._node.api.warn(
                pod,
                "FailedMount",
                message,
                node_name=self._node.config.node_name,
                at=self._node.clock.wall(),
            )
        except Exception as exc:
            _log.warning("%s: event not recorded: %s", self.label, exc)

    def _preparer(
        self, container: Mapping[str, Any], image: ImageSpec | None
    ) -> Callable[[], Launch]:
        def prepare() -> Launch:
            assert image is not None and self._pod_ip is not None
            with self._lock:
                pod = self._pod
            return self._launch(pod, container, image, self._pod_ip)

        return prepare

    def _launch(
        self, pod: dict[str, Any], container: Mapping[str, Any], image: ImageSpec, pod_ip: str
    ) -> Launch:
        return container_launch(
            pod,
            container,
            image,
            pod_ip=pod_ip,
            pod_dir=self.pod_dir,
            config=self._node.config,
            api=self._node.api,
            allocatable=self._node.allocatable,
            agent_env=self._node.agent_env,
        )

    # -- status ----------------------------------------------------------------------------------

    def _write_status(self, pod: dict[str, Any]) -> None:
        if self._rejected is not None:
            self._write_rejected(pod, self._rejected)
            return
        if self._inert or self._pod_ip is None:
            return
        stored = dict(pod.get("status") or {})
        previous = dict(stored)
        if self._written is not None:
            # our last write may not have come back through the watch yet
            by_type = {str(c.get("type")): c for c in stored.get("conditions") or ()}
            for condition in self._written["conditions"]:
                if condition["type"] in _OWNED_CONDITIONS:
                    by_type[condition["type"]] = condition
            previous["conditions"] = list(by_type.values())
            previous["startTime"] = self._written["startTime"]
        status = pod_status(
            {**pod, "status": previous},
            [r.view() for r in self._runners],
            pod_ip=self._pod_ip,
            host_ip=self._node.config.node_ip,
            start_time=self._start_time,
            now=self._node.clock.wall(),
            terminal=self._terminating and self._shutdown_grace is None,
        )
        now = self._node.clock.monotonic()
        changed = status != self._written
        drifted = now - self._written_at >= RESYNC_STATUS_S and any(
            _without_nulls(stored.get(k)) != _without_nulls(v) for k, v in status.items()
        )
        if not (changed or drifted):
            return
        meta = pod["metadata"]
        try:
            self._node.api.patch_status(meta["namespace"], meta["name"], status)
        except Exception as exc:
            if is_status(exc, 404):
                self.gone()
                return
            _log.warning("%s: status not written (will retry): %s", self.label, exc)
            return
        self._written, self._written_at = status, now
        _log.debug("%s: status written (%s)", self.label, "changed" if changed else "drifted")

    def _write_rejected(self, pod: dict[str, Any], message: str) -> None:
        status = rejected_status(
            pod, message, host_ip=self._node.config.node_ip, start_time=self._start_time
        )
        if status == self._written:
            return
        meta = pod["metadata"]
        try:
            self._node.api.patch_status(meta["namespace"], meta["name"], status)
        except Exception as exc:
            _log.warning("%s: status not written (will retry): %s", self.label, exc)
            return
        self._written = status


def pods_dir(config: NodeConfig) -> Path:
    return config.state_dir / "pods"
