"""A pod's status from its containers' views."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from refstack.node.podstatus import (
    ContainerView,
    Running,
    Terminated,
    Waiting,
    pod_phase,
    pod_status,
    previous_termination,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
T1 = T0 + timedelta(seconds=30)


def _view(state: Any, *, name: str = "app", ready: bool = False, **kw: Any) -> ContainerView:
    return ContainerView(
        name=name, image="img:1", image_id="img@sha256:ab", state=state, ready=ready, **kw
    )


RUN = Running(T0)
WAIT = Waiting("ContainerCreating")
OK = Terminated(0, "Completed", T1, T0)
FAIL = Terminated(1, "Error", T1, T0)


@pytest.mark.parametrize(
    ("views", "policy", "terminal", "phase"),
    [
        ([_view(WAIT)], "Always", False, "Pending"),
        ([_view(RUN), _view(WAIT, name="b")], "Always", False, "Running"),
        ([_view(Waiting("CrashLoopBackOff"), last_state=FAIL)], "Always", False, "Running"),
        ([_view(OK)], "Always", False, "Running"),
        ([_view(OK)], "OnFailure", False, "Succeeded"),
        ([_view(FAIL)], "OnFailure", False, "Running"),
        ([_view(OK), _view(FAIL, name="b")], "Never", False, "Failed"),
        ([_view(OK), _view(OK, name="b")], "Never", False, "Succeeded"),
        ([_view(RUN), _view(FAIL, name="b")], "Never", False, "Running"),
        ([_view(Terminated(143, "Error", T1, T0, signal=15))], "Always", True, "Failed"),
        ([_view(OK)], "Always", True, "Succeeded"),
        ([_view(WAIT)], "Always", True, "Pending"),
        ([], "Always", False, "Pending"),
    ],
)
def test_phase(views: list[ContainerView], policy: str, terminal: bool, phase: str) -> None:
    assert pod_phase(views, policy, terminal) == phase


def _pod(conditions: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Pending", "qosClass": "BestEffort"}
    if conditions is not None:
        status["conditions"] = conditions
    return {
        "metadata": {"name": "p"},
        "spec": {"restartPolicy": "Always", **spec},
        "status": status,
    }


def _status(pod: dict[str, Any], views: list[ContainerView], now: datetime = T1) -> dict[str, Any]:
    return pod_status(pod, views, pod_ip="127.2.0.5", host_ip="127.0.0.1", start_time=T0, now=now)


def _conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


def test_a_ready_running_pod() -> None:
    status = _status(_pod(), [_view(RUN, ready=True, started=True, container_id="process://42")])
    assert status["phase"] == "Running"
    assert status["podIP"] == "127.2.0.5"
    assert status["podIPs"] == [{"ip": "127.2.0.5"}]
    assert status["hostIPs"] == [{"ip": "127.0.0.1"}]
    assert status["startTime"] == "2025-03-01T12:00:00Z"
    conditions = _conditions(status)
    assert [c["type"] for c in status["conditions"]] == [
        "PodScheduled",
        "Initialized",
        "ContainersReady",
        "Ready",
    ]
    assert all(c["status"] == "True" for c in conditions.values())
    assert conditions["Ready"]["lastTransitionTime"] == "2025-03-01T12:00:30Z"
    assert status["containerStatuses"] == [
        {
            "name": "app",
            "image": "img:1",
            "imageID": "img@sha256:ab",
            "containerID": "process://42",
            "state": {"running": {"startedAt": "2025-03-01T12:00:00Z"}},
            "lastState": {},
            "ready": True,
            "started": True,
            "restartCount": 0,
        }
    ]


def test_unready_containers_are_named() -> None:
    views = [_view(RUN, ready=True), _view(RUN, name="side"), _view(WAIT, name="third")]
    ready = _conditions(_status(_pod(), views))["Ready"]
    assert ready["status"] == "False"
    assert ready["reason"] == "ContainersNotReady"
    assert ready["message"] == "containers with unready status: [side third]"


def test_transition_times_hold_while_the_status_holds() -> None:
    first = _status(_pod(), [_view(RUN, ready=True)], now=T0)
    later = T0 + timedelta(minutes=5)
    same = _status(_pod(first["conditions"]), [_view(RUN, ready=True)], now=later)
    assert _conditions(same)["Ready"]["lastTransitionTime"] == "2025-03-01T12:00:00Z"
    flipped = _status(_pod(first["conditions"]), [_view(RUN)], now=later)
    assert _conditions(flipped)["Ready"]["lastTransitionTime"] == "2025-03-01T12:05:00Z"
    assert _conditions(flipped)["Initialized"]["lastTransitionTime"] == "2025-03-01T12:00:00Z"


def test_foreign_conditions_and_the_scheduler_s_are_kept() -> None:
    scheduled = {
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": None,
        "lastTransitionTime": "2025-01-01T00:00:00Z",
    }
    disruption = {"type": "DisruptionTarget", "status": "True", "reason": "EvictionByEvictionAPI"}
    status = _status(_pod([scheduled, disruption]), [_view(RUN, ready=True)])
    conditions = _conditions(status)
    assert conditions["PodScheduled"] == scheduled
    assert conditions["DisruptionTarget"] == disruption


def test_readiness_gates_hold_ready_back() -> None:
    gate = {"conditionType": "example.com/lb"}
    missing = _conditions(_status(_pod(readinessGates=[gate]), [_view(RUN, ready=True)]))
    assert missing["ContainersReady"]["status"] == "True"
    assert missing["Ready"]["status"] == "False"
    assert missing["Ready"]["reason"] == "ReadinessGatesNotReady"
    opened = _pod([{"type": "example.com/lb", "status": "True"}], readinessGates=[gate])
    assert _conditions(_status(opened, [_view(RUN, ready=True)]))["Ready"]["status"] == "True"


def test_a_terminated_container_with_its_last_state() -> None:
    killed = Terminated(137, "Error", T1, T0, signal=9, container_id="process://7")
    view = _view(Waiting("CrashLoopBackOff", "back-off 10s"), last_state=killed, restart_count=3)
    status = _status(_pod(), [view])
    container = status["containerStatuses"][0]
    assert container["state"] == {
        "waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}
    }
    assert container["lastState"] == {
        "terminated": {
            "exitCode": 137,
            "reason": "Error",
            "signal": 9,
            "containerID": "process://7",
            "startedAt": "2025-03-01T12:00:00Z",
            "finishedAt": "2025-03-01T12:00:30Z",
        }
    }
    assert container["restartCount"] == 3


def test_a_completed_pod_is_not_ready_with_reason_pod_completed() -> None:
    status = pod_status(
        _pod(restartPolicy="Never"),
        [_view(OK)],
        pod_ip="127.2.0.5",
        host_ip="127.0.0.1",
        start_time=T0,
        now=T1,
    )
    assert status["phase"] == "Succeeded"
    assert _conditions(status)["Ready"]["reason"] == "PodCompleted"


def test_the_stored_start_time_is_kept() -> None:
    pod = _pod()
    pod["status"]["startTime"] = "2024-12-24T00:00:00Z"
    assert _status(pod, [_view(RUN)])["startTime"] == "2024-12-24T00:00:00Z"


def test_previous_termination_reads_the_stored_state_then_last_state() -> None:
    ended = {
        "exitCode": 143,
        "reason": "Error",
        "signal": 15,
        "containerID": "process://9",
        "startedAt": "2025-03-01T12:00:00Z",
        "finishedAt": "2025-03-01T12:00:30Z",
    }
    from_state = previous_termination({"state": {"terminated": ended}, "lastState": {}})
    assert from_state == Terminated(143, "Error", T1, T0, signal=15, container_id="process://9")
    from_last = previous_termination({"state": {"running": {}}, "lastState": {"terminated": ended}})
    assert from_last == from_state
    assert previous_termination({"state": {"waiting": {"reason": "ContainerCreating"}}}) is None
    assert previous_termination({"state": {"terminated": {"exitCode": 1}}}) is None  # no time
