"""``k8s_crash.crash_container`` against the in-memory API (tests/unit/chaos/fake_k8s.py) and
real processes of this machine standing in for the container.

Two stand-ins for the node agent: ``AgentNode`` runs the container with the agent's own
``ContainerRunner`` (its process in a new session, its ``<container>.pid`` record, its
restart back-off; stepped on each pod list, with the status the agent's ``pod_status`` would
write), so a crash is seen and restarted in place as on the local node; for the refusals the
test starts a process and writes its record with the agent's ``record_process`` by hand.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.k8s_crash import crash_container
from chaosgate.chaos.k8s_namespaces import check_kubernetes_scope, experiment_activities
from refstack.node.backoff import CrashBackoff
from refstack.node.clock import SystemClock
from refstack.node.containers import ContainerRunner, Launch, RunnerContext
from refstack.node.podstatus import Terminated, pod_status
from refstack.node.processes import record_process
from refstack.node_config import NodeConfig, load_node_config
from tests.support.clocks import FakeClock
from tests.unit.chaos.fake_k8s import FakeKube, pod
from tests.unit.chaos.support import experiment

USERS = {"app.kubernetes.io/name": "users"}
SELECTOR = "app.kubernetes.io/name=users"
NODE = "chaosgate-local"
BACKOFF_S = 0.1  # the agent node's first crash back-off: short, the tests wait it out
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
Obj = dict[str, Any]


def _quick_sleep(seconds: float) -> None:
    time.sleep(min(seconds, 0.02))


# --- the node's files and its pods -----------------------------------------------------------


@pytest.fixture
def stack(tmp_path: Path) -> tuple[dict[str, str], NodeConfig]:
    """A stack dir with the node.yaml `stack up --k8s` writes, as CHAOSGATE_STACK_DIR."""
    state = tmp_path / "stack"
    (state / "k8s").mkdir(parents=True)
    (state / "k8s" / "node.yaml").write_text(
        yaml.safe_dump(
            {
                "kubeconfig": str(state / "k8s" / "node.kubeconfig"),
                "node_name": NODE,
                "state_dir": str(state / "k8s" / "node"),
                "container_log_dir": str(state / "k8s" / "pod-logs"),
            }
        )
    )
    env = {"CHAOSGATE_STACK_DIR": str(state)}
    return env, load_node_config(state / "k8s" / "node.yaml")


def users_pod(
    name: str = "users-1",
    uid: str = "uid-users-1",
    *,
    containers: tuple[str, ...] = ("users",),
    node: str = NODE,
    pid: int | None = None,
    restart_count: int = 0,
) -> Obj:
    obj = pod(name, USERS)
    obj["metadata"]["uid"] = uid
    obj["spec"]["nodeName"] = node
    obj["spec"]["containers"] = [{"name": c, "image": "chaosgate/restaurant"} for c in containers]
    obj["status"]["containerStatuses"] = [
        {
            "name": c,
            "image": "chaosgate/restaurant",
            "imageID": "",
            "ready": True,
            "restartCount": restart_count,
            "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            **({"containerID": f"process://{pid}"} if pid is not None else {}),
        }
        for c in containers
    ]
    return obj


def record_path(node: NodeConfig, uid: str = "uid-users-1", container: str = "users") -> Path:
    return node.state_dir / "pods" / uid / f"{container}.pid"


@pytest.fixture
def processes() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start sleeping processes (in a new session unless told); all stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*, new_session: bool = True) -> subprocess.Popen[bytes]:
        child = subprocess.Popen(SLEEPER, start_new_session=new_session)
        started.append(child)
        return child

    yield start
    for child in started:
        child.kill()
        child.wait()


# --- the node agent's own container runner as the node ---------------------------------------


class AgentNode:
    """One container of one pod run by the agent's ``ContainerRunner`` (real processes, its
    record, its back-off), stepped and reported whenever the fake API lists pods."""

    def __init__(
        self,
        fake: FakeKube,
        node: NodeConfig,
        tmp_path: Path,
        *,
        restart_policy: str = "Always",
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self.fake, self.key = fake, ("restaurant", "users-1")
        self.pod = users_pod()
        self.runner = ContainerRunner(
            self.pod["spec"]["containers"][0],
            image_id="",
            image_error=None,
            prepare=lambda: Launch(SLEEPER, dict(os.environ), str(tmp_path)),
            context=RunnerContext(
                pod_label="restaurant/users-1",
                pod_uid="uid-users-1",
                pod_ip="127.1.0.9",
                restart_policy=restart_policy,
                log_path=tmp_path / "users.log",
                record_path=record_path(node),
                kill_grace_s=1.0,
                backoff=CrashBackoff(initial_s=backoff_s, cap_s=4 * backoff_s),
            ),
            clock=SystemClock(),
        )
        self.started = datetime.now(UTC)
        self.kills_seen: list[Terminated] = []
        self.tick()

    def tick(self) -> None:
        self.runner.step()
        view = self.runner.view()
        # how each run ended: lastState while it restarts, state once it stays down
        for ended in (view.last_state, view.state):
            if isinstance(ended, Terminated) and ended not in self.kills_seen:
                self.kills_seen.append(ended)
        if self.key in self.fake.pods:
            self.fake.pods[self.key]["status"] = pod_status(
                self.pod, [self.runner.view()], pod_ip="127.1.0.9", host_ip="127.0.0.1",
                start_time=self.started, now=datetime.now(UTC),
            )  # fmt: skip

    @property
    def pid(self) -> int:
        assert self.runner.pid is not None
        return self.runner.pid


class NodeKube(FakeKube):
    """The fake API, with the node stepped before every pod list is answered."""

    node: AgentNode | None = None

    def _list_pods(self, ns: str, selector: str) -> tuple[int, Any]:
        if self.node is not None:
            self.node.tick()
        return super()._list_pods(ns, selector)


@pytest.fixture
def agent_node(
    stack: tuple[dict[str, str], NodeConfig], tmp_path: Path
) -> Iterator[tuple[NodeKube, AgentNode]]:
    fake = NodeKube()
    fake.add(users_pod())
    node = AgentNode(fake, stack[1], tmp_path)
    fake.node = node
    yield fake, node
    node.runner.kill()


def _crash(fake: FakeKube, env: dict[str, str], **arguments: Any) -> dict[str, Any]:
    arguments.setdefault("settle_s", 0)
    arguments.setdefault("timeout_s", 15)
    return crash_container(
        SELECTOR, "restaurant", api=fake.client(), env=env, sleep=_quick_sleep, **arguments
    )


# --- crashes in place ------------------------------------------------------------------------


def test_one_crash_kills_the_recorded_process_only_and_waits_for_the_restart(
    stack: tuple[dict[str, str], NodeConfig],
    agent_node: tuple[NodeKube, AgentNode],
    processes: Callable[..., subprocess.Popen[bytes]],
) -> None:
    fake, node = agent_node
    bystander = processes()
    recorded = json.loads(record_path(stack[1]).read_text())
    first = node.pid
    assert recorded["pid"] == first

    result = _crash(fake, stack[0], times=1)

    [crash] = result["crashes"]
    assert (crash["pod"], crash["pid"], crash["restart_count"]) == ("users-1", first, 1)
    # the recorded process died of SIGKILL (a crash: 128 + 9), nothing else was touched
    [ended] = node.kills_seen
    assert (ended.signal, ended.exit_code, ended.container_id) == (9, 137, f"process://{first}")
    assert bystander.poll() is None
    # it came back in the same pod as a new process, recorded anew, and the API says so
    assert crash["new_pid"] == node.pid != first
    assert json.loads(record_path(stack[1]).read_text())["pid"] == node.pid
    status = fake.pods[("restaurant", "users-1")]["status"]["containerStatuses"][0]
    assert status["restartCount"] == 1 and "running" in status["state"]
    assert result["restart_count_before"] == 0 and result["restart_count_after"] == 1
    assert (result["node"], result["container"], result["namespace"]) == (
        NODE, "users", "restaurant",
    )  # fmt: skip


def test_three_crashes_each_wait_for_the_restart_and_its_back_off(
    stack: tuple[dict[str, str], NodeConfig], agent_node: tuple[NodeKube, AgentNode]
) -> None:
    fake, node = agent_node

    result = _crash(fake, stack[0], times=3)

    crashes = result["crashes"]
    assert [c["crash"] for c in crashes] == [1, 2, 3]
    assert [c["restart_count"] for c in crashes] == [1, 2, 3]
    # each crash killed the process the previous one came back as: it waited for it
    assert [c["pid"] for c in crashes[1:]] == [c["new_pid"] for c in crashes[:-1]]
    assert len({c["pid"] for c in crashes} | {crashes[-1]["new_pid"]}) == 4
    assert [k.signal for k in node.kills_seen] == [9, 9, 9]
    # the first restart is immediate, the next ones wait out the back-off (0.1 s, 0.2 s)
    assert crashes[1]["back_after_s"] >= BACKOFF_S and crashes[2]["back_after_s"] >= 2 * BACKOFF_S
    assert crashes[0]["killed_at"] < crashes[1]["killed_at"] < crashes[2]["killed_at"]
    assert node.runner.restart_count == 3 == result["restart_count_after"]


def test_times_counts_the_crashes(
    stack: tuple[dict[str, str], NodeConfig], agent_node: tuple[NodeKube, AgentNode]
) -> None:
    fake, node = agent_node
    result = _crash(fake, stack[0], times=2)
    assert len(result["crashes"]) == 2 == len(node.kills_seen) == node.runner.restart_count


def test_a_container_that_does_not_come_back_fails_saying_how_it_is(
    stack: tuple[dict[str, str], NodeConfig], tmp_path: Path
) -> None:
    fake = NodeKube()
    fake.add(users_pod())
    node = AgentNode(fake, stack[1], tmp_path, restart_policy="Never")
    fake.node = node
    try:
        with pytest.raises(ActivityFailed, match=r"restartCount >= 1 after 5 s \(crash 1 of 3"):
            crash_container(
                SELECTOR, "restaurant", api=fake.client(), env=stack[0], timeout_s=5,
                clock=FakeClock(step_per_reading=1.0), sleep=_quick_sleep,
            )  # fmt: skip
        assert len(node.kills_seen) == 1  # one crash, then it waited; never a second kill
    finally:
        node.runner.kill()


def test_a_pod_replaced_instead_of_restarted_fails(
    stack: tuple[dict[str, str], NodeConfig], agent_node: tuple[NodeKube, AgentNode]
) -> None:
    fake, node = agent_node
    original = node.tick

    def replaced_once_killed() -> None:
        original()
        if node.kills_seen and ("restaurant", "users-1") in fake.pods:
            del fake.pods[("restaurant", "users-1")]
            fake.add(users_pod("users-2", "uid-users-2", pid=4242))

    node.tick = replaced_once_killed  # type: ignore[method-assign]
    with pytest.raises(ActivityFailed, match=r"'users-1' in 'restaurant' is gone .* not restarted"):
        _crash(fake, stack[0], times=1)


# --- what it refuses to signal ---------------------------------------------------------------


def _static(fake: FakeKube, pid: int, **pod_options: Any) -> None:
    fake.add(users_pod(pid=pid, **pod_options))


def test_a_stale_record_of_a_process_gone_is_refused(
    stack: tuple[dict[str, str], NodeConfig],
) -> None:
    env, node = stack
    child = subprocess.Popen(SLEEPER, start_new_session=True)
    record_process(record_path(node), child.pid)
    child.kill()
    child.wait()
    fake = FakeKube()
    _static(fake, child.pid)
    with pytest.raises(ActivityFailed, match=rf"is stale: pid {child.pid} no longer runs"):
        _crash(fake, env)


def test_a_record_whose_pid_is_another_process_now_is_refused(
    stack: tuple[dict[str, str], NodeConfig], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    env, node = stack
    child = processes()
    record_process(record_path(node), child.pid)
    data = json.loads(record_path(node).read_text())
    data["started"] -= 30.0  # the recorded process started earlier: this pid was reused
    record_path(node).write_text(json.dumps(data))
    fake = FakeKube()
    _static(fake, child.pid)
    with pytest.raises(ActivityFailed, match=r"is stale: .* is another process now"):
        _crash(fake, env)
    assert child.poll() is None


def test_a_record_the_api_does_not_confirm_is_refused(
    stack: tuple[dict[str, str], NodeConfig], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    env, node = stack
    recorded, running = processes(), processes()
    record_process(record_path(node), recorded.pid)
    fake = FakeKube()
    _static(fake, running.pid)  # the API says the container is another process
    with pytest.raises(ActivityFailed, match=rf"names pid {recorded.pid} but the API reports"):
        _crash(fake, env)
    assert recorded.poll() is None and running.poll() is None


def test_a_process_that_does_not_lead_its_own_session_is_refused(
    stack: tuple[dict[str, str], NodeConfig], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    env, node = stack
    child = processes(new_session=False)  # in this test's session: no container's process
    record_process(record_path(node), child.pid)
    fake = FakeKube()
    _static(fake, child.pid)
    with pytest.raises(ActivityFailed, match="does not lead its own session"):
        _crash(fake, env)
    assert child.poll() is None


def test_a_container_not_run_as_a_local_process_is_refused(
    stack: tuple[dict[str, str], NodeConfig], processes: Callable[..., subprocess.Popen[bytes]]
) -> None:
    env, node = stack
    child = processes()
    record_process(record_path(node), child.pid)
    fake = FakeKube()
    obj = users_pod()
    obj["status"]["containerStatuses"][0]["containerID"] = f"containerd://{child.pid}"
    fake.add(obj)
    with pytest.raises(ActivityFailed, match="not a process of this node's agent"):
        _crash(fake, env)
    assert child.poll() is None


def test_no_record_means_the_pod_is_not_this_agents(
    stack: tuple[dict[str, str], NodeConfig],
) -> None:
    fake = FakeKube()
    _static(fake, os.getpid())
    with pytest.raises(ActivityFailed, match=r"no process record .*users.pid.* not run by it"):
        _crash(fake, stack[0])


# --- bad inputs --------------------------------------------------------------------------------


def test_no_matching_pod_names_the_selector_and_namespace(
    stack: tuple[dict[str, str], NodeConfig],
) -> None:
    fake = FakeKube()
    terminating = users_pod()
    terminating["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    fake.add(terminating)
    wanted = f"no running pod matches pods {SELECTOR!r} in namespace 'restaurant'"
    with pytest.raises(ActivityFailed, match=re.escape(wanted)):
        _crash(fake, stack[0])


def test_several_pods_are_refused_when_one_is_meant(
    stack: tuple[dict[str, str], NodeConfig],
) -> None:
    fake = FakeKube()
    fake.add(users_pod("users-1", "u1", pid=1))
    fake.add(users_pod("users-2", "u2", pid=2))
    with pytest.raises(ActivityFailed, match=r"2 pods .* match \(users-1, users-2\).* narrow"):
        _crash(fake, stack[0])


@pytest.mark.parametrize(
    ("container", "message"),
    [(None, r"has containers \['users', 'sidecar'\]; name the one"), ("db", "no container 'db'")],
)
def test_the_container_must_be_named_and_exist(
    stack: tuple[dict[str, str], NodeConfig], container: str | None, message: str
) -> None:
    fake = FakeKube()
    fake.add(users_pod(containers=("users", "sidecar"), pid=1))
    with pytest.raises(ActivityFailed, match=message):
        _crash(fake, stack[0], container=container)


def test_a_pod_on_another_node_is_refused_with_the_kubectl_equivalent(
    stack: tuple[dict[str, str], NodeConfig],
) -> None:
    fake = FakeKube()
    fake.add(users_pod(node="worker-3", pid=1))
    with pytest.raises(ActivityFailed, match=r"node 'worker-3'.*exec users-1 -c users -- kill 1"):
        _crash(fake, stack[0])


def test_without_a_local_node_it_says_how_to_start_one(tmp_path: Path) -> None:
    fake = FakeKube()
    fake.add(users_pod(pid=1))
    env = {"CHAOSGATE_STACK_DIR": str(tmp_path / "nothing")}
    with pytest.raises(ActivityFailed, match=r"no local Kubernetes node .*stack up --k8s"):
        _crash(fake, env)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"times": 0}, "times 0 is not a number of crashes"),
        ({"times": True}, "times True is not"),
        ({"times": "3"}, "times '3' is not"),
        ({"timeout_s": 0}, "timeout_s 0 is not a number of seconds"),
        ({"settle_s": -1}, "settle_s -1 is not a number of seconds"),
        ({"ns": ""}, "ns '' is not a namespace"),
        ({"label_selector": " "}, "would match every pod"),
    ],
)
def test_bad_arguments_are_refused_before_any_call(
    stack: tuple[dict[str, str], NodeConfig], arguments: dict[str, Any], message: str
) -> None:
    fake = FakeKube()
    call: dict[str, Any] = {"label_selector": SELECTOR, "ns": "restaurant", **arguments}
    with pytest.raises(ActivityFailed, match=message):
        crash_container(api=fake.client(), env=stack[0], **call)
    assert fake.requests == []


# --- the namespace allowlist sees it -----------------------------------------------------------


def _crash_experiment(ns: str) -> dict[str, Any]:
    action = {
        "type": "action",
        "name": "crash-users",
        "provider": {
            "type": "python",
            "module": "chaosgate.chaos.k8s_crash",
            "func": "crash_container",
            "arguments": {"label_selector": SELECTOR, "ns": ns, "times": 3},
        },
    }
    return experiment(method=[action])


def test_the_namespace_allowlist_sees_its_ns_argument() -> None:
    doc = _crash_experiment("restaurant")
    [crash] = [a for a in experiment_activities(doc, source="x.json") if a.name == "crash-users"]
    assert [(u.namespace, u.via) for u in crash.namespaces] == [("restaurant", "its ns argument")]
    with pytest.raises(Exception, match="acts on namespace 'payments'"):
        check_kubernetes_scope(
            _crash_experiment("payments"), source="x.json", target="local-k8s",
            chaos="kubernetes", namespaces=("restaurant",), allowlist="built-in target",
        )  # fmt: skip
