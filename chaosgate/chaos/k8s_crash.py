"""A container crash in place, called by Chaos Toolkit as a ``type: python`` action
(experiments/k8s/crash-loop-users-container.json): ``crash_container``.

It finds one pod through the Kubernetes API (chaosk8s' client factory, as ``k8s_actions``),
SIGKILLs its container's process and waits until the API shows the container restarted in the
same pod (``restartCount`` up, running and ready again) before the next crash. Restarts in
place are what PodCrashLooping / PodRestartingOften count (``changes`` of one pod's
``process_start_time_seconds``); a pod deleted and replaced is a new series and counts nothing.

Why it kills by the PID the node agent recorded. The fault on a real cluster is
``kubectl exec POD -- kill 1`` (the container's PID 1 dies, the kubelet restarts it with its
back-off); chaosk8s has no such action, and the local node has no ``exec``: its pods are plain
processes of this machine (refstack.node). So the action reads the record the agent
keeps while a container runs, ``<node state_dir>/pods/<pod uid>/<container>.pid`` (PID and
process start time, refstack.node.processes), from the node configuration of the stack
in ``CHAOSGATE_STACK_DIR`` (``<state dir>/k8s/node.yaml``), and kills that PID only.

It refuses anything the agent did not record for exactly this container: the pod must be bound
to this machine's node, the record must exist, name the PID the API reports as the container's
(``containerID process://PID``), and that PID must still be the process that was recorded (its
start time within 0.5 s of the record's, as the agent itself checks) and lead its own session
(the agent starts every container in a new one). The signal goes through psutil, which checks
once more that the PID was not reused. Only the container's leader is killed, as ``kill 1``
does; the agent then stops what the container left behind, as the kernel does when a PID
namespace's init dies.

Every bad input is an ``ActivityFailed`` saying how to fix it. Nothing here works on a real
cluster's nodes (their pods are not processes of this machine): there it refuses with the
``kubectl exec`` equivalent.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil
from chaoslib.exceptions import ActivityFailed
from kubernetes import client

from chaosgate.chaos.k8s_api import (
    Sleep,
    api_client,
    list_pods,
    object_name,
)
from chaosgate.vocabulary import Clock
from refstack.launcher.k8s_parts import k8s_files
from refstack.launcher.layout import StackLayout
from refstack.node.pods import pods_dir
from refstack.node_config import NodeConfig, NodeConfigError, load_node_config

__all__ = ["PROCESS_ID_PREFIX", "crash_container", "local_node_config"]

PROCESS_ID_PREFIX = "process://"  # the containerID the local node agent reports
START_TIME_TOLERANCE_S = 0.5  # as refstack.node.processes.stop_recorded_processes
POLL_S = 0.5


@dataclass(frozen=True)
class _Target:
    ns: str
    label_selector: str
    pod: str
    uid: str
    node: str
    container: str


def local_node_config(env: Mapping[str, str] | None = None) -> NodeConfig:
    """The node configuration of the stack in ``CHAOSGATE_STACK_DIR`` (default ``.stack``)."""
    layout = StackLayout.from_env(os.environ if env is None else env)
    path = k8s_files(layout).node_config
    try:
        return load_node_config(path)
    except NodeConfigError as exc:
        raise ActivityFailed(
            f"no local Kubernetes node found for the stack at {str(layout.state_dir)!r}: {exc}; "
            "start it with `chaosgate stack up --k8s`, or set CHAOSGATE_STACK_DIR to the state "
            "dir of the stack that runs"
        ) from None


def _check_arguments(
    label_selector: object, ns: object, times: object, timeout_s: object, settle_s: object
) -> None:
    if not isinstance(ns, str) or not ns.strip():
        raise ActivityFailed(
            f"crash_container: ns {ns!r} is not a namespace; give the namespace of the pod, "
            'e.g. "ns": "restaurant"'
        )
    if not isinstance(label_selector, str) or not label_selector.strip():
        raise ActivityFailed(
            f"crash_container: label_selector {label_selector!r} would match every pod of "
            f"namespace {ns!r}; give one that matches one pod, e.g. app.kubernetes.io/name=users"
        )
    if isinstance(times, bool) or not isinstance(times, int) or times < 1:
        raise ActivityFailed(
            f"crash_container: times {times!r} is not a number of crashes; give a whole "
            "number of at least 1 (3 for a crash loop)"
        )
    for name, value, least in (("timeout_s", timeout_s, 0.0), ("settle_s", settle_s, -1e-9)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= least:
            raise ActivityFailed(
                f"crash_container: {name} {value!r} is not a number of seconds; give e.g. "
                f"{'45' if name == 'timeout_s' else '2'}"
            )


def _terminating(pod: client.V1Pod) -> bool:
    return pod.metadata is not None and pod.metadata.deletion_timestamp is not None


def _find_target(
    v1: client.CoreV1Api, ns: str, label_selector: str, container: str | None, node: NodeConfig
) -> _Target:
    pods = [p for p in list_pods(v1, ns, label_selector) if not _terminating(p)]
    where = f"pods {label_selector!r} in namespace {ns!r}"
    if not pods:
        raise ActivityFailed(
            f"no running pod matches {where}; check the selector and the namespace with "
            f"kubectl -n {ns} get pods -l {label_selector}"
        )
    if len(pods) > 1:
        names = ", ".join(sorted(object_name(p) for p in pods))
        raise ActivityFailed(
            f"{len(pods)} {where} match ({names}); crash_container crashes one pod's "
            "container: narrow label_selector until it matches one, e.g. add "
            "pod-template-hash, or scale the Deployment to 1 replica"
        )
    [pod] = pods
    name = object_name(pod)
    uid = str((pod.metadata.uid if pod.metadata else None) or "")
    if not uid:
        raise ActivityFailed(f"pod {name!r} in {ns!r} has no metadata.uid; the API always sets one")
    containers = [str(c.name) for c in (pod.spec.containers if pod.spec else None) or []]
    if container is None:
        if len(containers) != 1:
            raise ActivityFailed(
                f"pod {name!r} in {ns!r} has containers {containers}; name the one to crash "
                "with the container argument"
            )
        container = containers[0]
    elif container not in containers:
        raise ActivityFailed(
            f"pod {name!r} in {ns!r} has no container {container!r}; it has {containers}"
        )
    node_name = str((pod.spec.node_name if pod.spec else None) or "")
    if node_name != node.node_name:
        raise ActivityFailed(
            f"pod {name!r} in {ns!r} runs on node {node_name or '(none yet)'!r}, not on this "
            f"machine's node {node.node_name!r}: crash_container kills by a local PID and "
            "works only on the local node of `chaosgate stack up --k8s`; on another cluster "
            f"the same fault is kubectl -n {ns} exec {name} -c {container} -- kill 1"
        )
    return _Target(ns, label_selector, name, uid, node_name, container)


def _container_status(pod: client.V1Pod, container: str) -> client.V1ContainerStatus | None:
    statuses = (pod.status.container_statuses if pod.status else None) or []
    return next((s for s in statuses if s.name == container), None)


def _serving(status: client.V1ContainerStatus | None) -> bool:
    return (
        status is not None
        and status.state is not None
        and status.state.running is not None
        and bool(status.ready)
    )


def _describe(status: client.V1ContainerStatus | None) -> str:
    if status is None:
        return "no status yet"
    state = status.state
    if state is not None and state.running is not None:
        now = "running, ready" if status.ready else "running, not ready"
    elif state is not None and state.waiting is not None:
        message = f": {state.waiting.message}" if state.waiting.message else ""
        now = f"waiting ({state.waiting.reason}{message})"
    elif state is not None and state.terminated is not None:
        now = f"terminated ({state.terminated.reason}, exit {state.terminated.exit_code})"
    else:
        now = "in no state"
    return f"{now}, restartCount {status.restart_count}"


def _wait_serving(
    v1: client.CoreV1Api,
    target: _Target,
    *,
    restarts_at_least: int,
    timeout_s: float,
    why: str,
    clock: Clock,
    sleep: Sleep,
) -> client.V1ContainerStatus:
    """Wait until the container of the same pod (same UID) runs and is ready with a
    ``restartCount`` of at least ``restarts_at_least``."""
    deadline = clock() + timeout_s
    while True:
        pods = list_pods(v1, target.ns, target.label_selector)
        pod = next((p for p in pods if p.metadata and p.metadata.uid == target.uid), None)
        if pod is None or _terminating(pod):
            raise ActivityFailed(
                f"pod {target.pod!r} in {target.ns!r} is {'gone' if pod is None else 'deleted'} "
                f"while {why}: it was deleted or replaced, not restarted in place; see "
                f"kubectl -n {target.ns} get pods -l {target.label_selector}"
            )
        status = _container_status(pod, target.container)
        if _serving(status) and status is not None and status.restart_count >= restarts_at_least:
            return status
        if clock() >= deadline:
            raise ActivityFailed(
                f"container {target.container!r} of pod {target.pod!r} in {target.ns!r} is not "
                f"running and ready with restartCount >= {restarts_at_least} after "
                f"{timeout_s:g} s ({why}; it is {_describe(status)}); the node's back-off grows "
                "10, 20, 40 s after each crash and starts over only after 10 minutes of "
                "running: wait that long before crashing it again, or raise timeout_s"
            )
        sleep(POLL_S)


def _api_pid(status: client.V1ContainerStatus) -> int | None:
    """The PID in the containerID the local agent reports (``process://PID``), else None."""
    container_id = str(status.container_id or "")
    number = container_id.removeprefix(PROCESS_ID_PREFIX)
    return int(number) if container_id.startswith(PROCESS_ID_PREFIX) and number.isdigit() else None


def _recorded_process(
    node: NodeConfig, target: _Target, status: client.V1ContainerStatus
) -> psutil.Process:
    """The container's process, proven by the agent's record and the API; refuses otherwise."""
    what = f"container {target.container!r} of pod {target.pod!r} in {target.ns!r}"
    record = pods_dir(node) / target.uid / f"{target.container}.pid"
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
        pid, started = int(data["pid"]), data["started"]
        started = None if started is None else float(started)
    except FileNotFoundError:
        raise ActivityFailed(
            f"no process record {str(record)!r} for {what}: the node agent of "
            f"{str(node.state_dir)!r} writes one while it runs the container, so this pod is "
            "not run by it; set CHAOSGATE_STACK_DIR to the stack whose node runs the pod"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ActivityFailed(
            f"process record {str(record)!r} of {what} cannot be read ({exc}); refusing to "
            "signal anything; the agent rewrites it when it next starts the container"
        ) from None
    api_pid = _api_pid(status)
    if api_pid is None:
        raise ActivityFailed(
            f"the API reports {what} as container {status.container_id!r}, not a process of "
            "this node's agent (process://PID); refusing to signal anything"
        )
    if api_pid != pid:
        raise ActivityFailed(
            f"process record {str(record)!r} names pid {pid} but the API reports {what} as "
            f"pid {api_pid}: the record is not this container's; refusing to signal either "
            "(run the action again once the agent's record and status agree)"
        )
    stale = f"process record {str(record)!r} of {what} is stale: pid {pid}"
    try:
        process = psutil.Process(pid)
        created = process.create_time()
        zombie = process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        raise ActivityFailed(f"{stale} no longer runs; nothing was signalled") from None
    if zombie:
        raise ActivityFailed(f"{stale} has exited (a zombie); nothing was signalled")
    if started is None or abs(created - started) >= START_TIME_TOLERANCE_S:
        raise ActivityFailed(
            f"{stale} is another process now (started at {created:.2f}, the record says "
            f"{started!r}); refusing to signal it"
        )
    try:
        session = os.getsid(pid)
    except ProcessLookupError:
        raise ActivityFailed(f"{stale} no longer runs; nothing was signalled") from None
    if session != pid:
        raise ActivityFailed(
            f"pid {pid} of process record {str(record)!r} does not lead its own session, as "
            "every container the node agent starts does; refusing to signal it"
        )
    return process


def _kill(process: psutil.Process, target: _Target) -> None:
    try:
        process.send_signal(signal.SIGKILL)
    except psutil.NoSuchProcess:
        raise ActivityFailed(
            f"pid {process.pid} of container {target.container!r} of pod {target.pod!r} "
            "exited (or was replaced) before it could be killed; run the action again"
        ) from None
    except psutil.AccessDenied:
        raise ActivityFailed(
            f"not allowed to signal pid {process.pid} of container {target.container!r}; run "
            "chaosgate as the user the node agent runs as"
        ) from None


def crash_container(
    label_selector: str,
    ns: str = "restaurant",
    container: str | None = None,
    times: int = 3,
    timeout_s: float = 45.0,
    settle_s: float = 2.0,
    secrets: Mapping[str, Any] | None = None,
    api: client.ApiClient | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock = time.monotonic,
    wall: Clock = time.time,
    sleep: Sleep = time.sleep,
) -> dict[str, Any]:
    """Crash ``container`` (None: the pod's only one) of the one pod ``label_selector`` matches
    in ``ns``, ``times`` times, each a SIGKILL of its recorded process, each waited for until
    the container runs and is ready again in the same pod with a higher ``restartCount``
    (``timeout_s`` per wait, the first one included), then ``settle_s`` more so Prometheus
    scrapes the new process before the next crash.

    ``env`` gives ``CHAOSGATE_STACK_DIR`` (None: the process environment). Returns the pod,
    its node, the restart counts before and after, and per crash the pid killed, the
    ``restartCount`` and pid it came back with, when it was killed (Unix time) and how long it
    took to be ready again.
    """
    _check_arguments(label_selector, ns, times, timeout_s, settle_s)
    node = local_node_config(env)
    v1 = client.CoreV1Api(api_client(api, secrets))
    target = _find_target(v1, ns, label_selector, container, node)
    status = _wait_serving(
        v1, target, restarts_at_least=0, timeout_s=timeout_s, why="waiting to crash it first",
        clock=clock, sleep=sleep,
    )  # fmt: skip
    before = status.restart_count
    crashes: list[dict[str, Any]] = []
    for crash in range(1, times + 1):
        process = _recorded_process(node, target, status)
        count = status.restart_count
        killed_at, killed_mono = wall(), clock()
        _kill(process, target)
        status = _wait_serving(
            v1, target, restarts_at_least=count + 1, timeout_s=timeout_s,
            why=f"crash {crash} of {times} waited for its restart", clock=clock, sleep=sleep,
        )  # fmt: skip
        crashes.append(
            {
                "crash": crash,
                "pod": target.pod,
                "pid": process.pid,
                "killed_at": killed_at,
                "restart_count": status.restart_count,
                "new_pid": _api_pid(status),
                "back_after_s": round(clock() - killed_mono, 3),
            }
        )
        if crash < times:
            sleep(settle_s)
            status = _wait_serving(
                v1, target, restarts_at_least=status.restart_count, timeout_s=timeout_s,
                why=f"waiting to crash it again ({crash + 1} of {times})", clock=clock,
                sleep=sleep,
            )  # fmt: skip
    return {
        "namespace": ns,
        "pod": target.pod,
        "container": target.container,
        "node": target.node,
        "restart_count_before": before,
        "restart_count_after": status.restart_count,
        "crashes": crashes,
    }
