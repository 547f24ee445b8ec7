"""A pod's ``status`` from what its containers are doing (pure).

The phase follows the kubelet: Pending while a container waits to start for the first time;
Running while one runs or will be restarted; once every container has stopped for good,
Succeeded if all exited 0, else Failed. ``terminal`` (the pod is being deleted) means no
container will be restarted any more. Conditions keep their ``lastTransitionTime`` while
their status does not change; conditions other than the four this module owns (a readiness
gate's, ``DisruptionTarget``) are carried over from the previous status untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from refstack.node.clock import rfc3339

__all__ = [
    "ContainerView",
    "Running",
    "Terminated",
    "Waiting",
    "pod_phase",
    "pod_status",
    "previous_termination",
]

_OWNED = ("PodScheduled", "Initialized", "ContainersReady", "Ready")


@dataclass(frozen=True)
class Waiting:
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Running:
    started_at: datetime


@dataclass(frozen=True)
class Terminated:
    exit_code: int
    reason: str
    finished_at: datetime
    started_at: datetime | None = None
    signal: int | None = None
    message: str = ""
    container_id: str | None = None


ContainerState = Waiting | Running | Terminated


@dataclass(frozen=True)
class ContainerView:
    """One container as the status reports it."""

    name: str
    image: str
    image_id: str
    state: ContainerState
    last_state: Terminated | None = None
    ready: bool = False
    started: bool = False
    restart_count: int = 0
    container_id: str | None = None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def previous_termination(container_status: Mapping[str, Any]) -> Terminated | None:
    """The latest end of a container as a stored status tells it (``state.terminated``, else
    ``lastState.terminated``): what an agent that starts the pod afresh reports as lastState."""
    for key in ("state", "lastState"):
        found = (container_status.get(key) or {}).get("terminated")
        if not found:
            continue
        finished = _time(found.get("finishedAt"))
        if finished is None:
            continue
        return Terminated(
            exit_code=int(found.get("exitCode", 0)),
            reason=str(found.get("reason") or ""),
            finished_at=finished,
            started_at=_time(found.get("startedAt")),
            signal=found.get("signal"),
            message=str(found.get("message") or ""),
            container_id=found.get("containerID"),
        )
    return None


def pod_phase(views: Sequence[ContainerView], restart_policy: str, terminal: bool = False) -> str:
    waiting = running = stopped = succeeded = 0
    for view in views:
        if isinstance(view.state, Running):
            running += 1
        elif isinstance(view.state, Terminated):
            stopped += 1
            succeeded += view.state.exit_code == 0
        elif view.last_state is not None:
            stopped += 1  # backing off between two runs
        else:
            waiting += 1
    if running:
        return "Running"
    if waiting:
        return "Failed" if terminal and stopped else "Pending"
    if not views:
        return "Pending"
    all_ok = succeeded == len(views)
    if terminal or restart_policy == "Never":
        return "Succeeded" if all_ok else "Failed"
    if restart_policy == "OnFailure" and all_ok:
        return "Succeeded"
    return "Running"


def _state(state: ContainerState | None) -> dict[str, Any]:
    if state is None:
        return {}
    if isinstance(state, Waiting):
        waiting: dict[str, Any] = {"reason": state.reason}
        if state.message:
            waiting["message"] = state.message
        return {"waiting": waiting}
    if isinstance(state, Running):
        return {"running": {"startedAt": rfc3339(state.started_at)}}
    terminated: dict[str, Any] = {
        "exitCode": state.exit_code,
        "reason": state.reason,
        "finishedAt": rfc3339(state.finished_at),
    }
    if state.started_at is not None:
        terminated["startedAt"] = rfc3339(state.started_at)
    if state.signal is not None:
        terminated["signal"] = state.signal
    if state.message:
        terminated["message"] = state.message
    if state.container_id:
        terminated["containerID"] = state.container_id
    return {"terminated": terminated}


def _container_status(view: ContainerView) -> dict[str, Any]:
    status: dict[str, Any] = {
        "name": view.name,
        "image": view.image,
        "imageID": view.image_id,
        "state": _state(view.state),
        "lastState": _state(view.last_state),
        "ready": view.ready,
        "started": view.started,
        "restartCount": view.restart_count,
    }
    if view.container_id:
        status["containerID"] = view.container_id
    return status


def _condition(
    previous: Mapping[str, Mapping[str, Any]],
    kind: str,
    ok: bool,
    now: datetime,
    reason: str = "",
    message: str = "",
) -> dict[str, Any]:
    status = "True" if ok else "False"
    before = previous.get(kind)
    since = before.get("lastTransitionTime") if before and before.get("status") == status else None
    condition: dict[str, Any] = {
        "type": kind,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": since or rfc3339(now),
    }
    if reason:
        condition["reason"] = reason
    if message:
        condition["message"] = message
    return condition


def _gates_message(pod: Mapping[str, Any], previous: Mapping[str, Mapping[str, Any]]) -> str:
    for gate in (pod.get("spec") or {}).get("readinessGates") or ():
        kind = str(gate.get("conditionType", ""))
        found = previous.get(kind)
        if found is None:
            return f"corresponding condition of pod readiness gate {kind!r} does not exist"
        if found.get("status") != "True":
            status = found.get("status")
            return f"the status of pod readiness gate {kind!r} is not 'True', but {status}"
    return ""


def pod_status(
    pod: Mapping[str, Any],
    views: Sequence[ContainerView],
    *,
    pod_ip: str,
    host_ip: str,
    start_time: datetime,
    now: datetime,
    terminal: bool = False,
) -> dict[str, Any]:
    """The ``status`` to write for ``pod`` (an API object as a dict)."""
    old_status = pod.get("status") or {}
    previous = {str(c.get("type")): c for c in old_status.get("conditions") or ()}
    restart_policy = str((pod.get("spec") or {}).get("restartPolicy") or "Always")
    phase = pod_phase(views, restart_policy, terminal)
    unready = [v.name for v in views if not v.ready]
    done = phase in ("Succeeded", "Failed")
    if done:
        reason, message = "PodCompleted", ""
    elif unready:
        reason, message = (
            "ContainersNotReady",
            f"containers with unready status: [{' '.join(unready)}]",
        )
    else:
        reason, message = "", ""
    containers_ready = not unready and not done
    gates = "" if done else _gates_message(pod, previous)
    conditions = [
        {**previous["PodScheduled"]}
        if "PodScheduled" in previous
        else _condition(previous, "PodScheduled", True, now),
        _condition(previous, "Initialized", True, now),
        _condition(previous, "ContainersReady", containers_ready, now, reason, message),
        _condition(
            previous,
            "Ready",
            containers_ready and not gates,
            now,
            reason or ("ReadinessGatesNotReady" if gates else ""),
            message or gates,
        ),
    ]
    conditions.extend(c for t, c in previous.items() if t not in _OWNED)
    return {
        "phase": phase,
        "conditions": conditions,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": old_status.get("startTime") or rfc3339(start_time),
        "containerStatuses": [_container_status(v) for v in views],
    }
