"""experiments/k8s/ and the stress specs of manifests/chaos/: valid, self-describing, bounded.

The stress specs' stress-ng options are checked by Debian's stress-ng itself (``--dry-run``
parses every option and runs nothing); the memory spec's sizing script is run with ``/bin/sh``
for real, with a stand-in ``stress-ng`` that only prints what it was asked to take.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosgate.chaos.experiments import chaosgate_extension, validate_experiment
from chaosgate.chaos.k8s_namespaces import check_kubernetes_scope
from chaosgate.target import LOCAL_NODE_NAME
from tests.unit.chaos.support import rule_labels

REPO_ROOT = Path(__file__).resolve().parents[3]
K8S = REPO_ROOT / "experiments" / "k8s"
CHAOS_SPECS = REPO_ROOT / "manifests" / "chaos"
FILES = sorted(K8S.glob("*.json"))
STRESS_NG = shutil.which("stress-ng")

# what each fault must raise (alertname, labels, deadline), per the brief and the rules
EXPECTED: dict[str, list[tuple[str, dict[str, str], float]]] = {
    "kill-orders-pod.json": [],
    "kill-users-pods.json": [("UsersServiceDown", {"service": "users"}, 30)],
    "saturate-node-cpu.json": [("NodeHighCPU", {"component": "node"}, 30)],
    "saturate-node-memory.json": [("NodeHighMemory", {"component": "node"}, 75)],
    "remove-orders-endpoints.json": [("GatewayHighErrorRate", {"service": "gateway"}, 30)],
    "kill-iot-pods.json": [("IoTServiceDown", {"service": "iot", "severity": "critical"}, 30)],
    "crash-loop-users-container.json": [
        ("UsersServiceDown", {"service": "users", "severity": "critical"}, 30),
        ("PodRestartingOften", {"service": "users", "severity": "warning"}, 40),
        ("PodCrashLooping", {"service": "users", "severity": "critical"}, 70),
    ],
    # the services' admin fault switches on every pod (chaosgate.chaos.k8s_faults)
    "gateway-error-ratio.json": [("GatewayHighErrorRate", {"service": "gateway"}, 30)],
    "gateway-latency.json": [("GatewayHighLatency", {"service": "gateway"}, 30)],
    "users-error-ratio.json": [("UsersServiceHighErrorRate", {"service": "users"}, 30)],
    "iot-error-ratio.json": [("IoTServiceHighErrorRate", {"service": "iot"}, 30)],
    "orders-failing.json": [("OrderFailuresHigh", {"service": "orders"}, 30)],
    "exhaust-orders-db-pool.json": [
        ("DatabasePoolExhausted", {"service": "orders", "severity": "critical"}, 30)
    ],
    "leak-users-db-connections.json": [
        ("DatabaseTooManyConnections", {"service": "users", "severity": "warning"}, 30)
    ],
    "drop-users-connections.json": [
        ("NetworkHighErrorRate", {"upstream": "users", "component": "network"}, 30)
    ],
    # node-level and device faults through the local provider: the node is this machine
    "silence-iot-devices.json": [
        ("IoTDeviceOffline", {"service": "iot", "severity": "warning"}, 30)
    ],
    "fill-node-disk.json": [
        ("NodeDiskAlmostFull", {"component": "node", "severity": "warning", "fstype": "ext4"}, 30),
        ("NodeDiskAlmostFull", {"component": "node", "severity": "warning", "fstype": "ext4"}, 30),
    ],
}
# local-provider actions a Kubernetes experiment may use: node-level, outside any namespace
NODE_LEVEL = frozenset(
    f"chaosgate.chaos.local_actions.{func}"
    for func in ("silence_devices", "decommission_devices", "fill_disk", "release_disk")
)
# resolve deadlines other than the default 60 s: PodRestartingOften counts restarts over 5 m
RESOLVE_DEADLINES = {"crash-loop-users-container.json": 330}
# labels a rule takes from the series (label_replace), not from its `labels:`
SERIES_LABELS = {"PodCrashLooping": {"service"}, "PodRestartingOften": {"service"}}
# ... and from the series' own labels: the pool rules' service, the gateway's upstream errors'
SERIES_LABELS.update(
    NodeDiskAlmostFull={"fstype"},
    DatabasePoolExhausted={"service"},
    DatabaseTooManyConnections={"service"},
    NetworkHighErrorRate={"service", "upstream"},
)


def _calls(experiment: dict[str, Any], phase: str) -> list[str]:
    items = (
        experiment["steady-state-hypothesis"]["probes"]
        if phase == "hypothesis"
        else experiment[phase]
    )
    return [f"{a['provider']['module']}.{a['provider']['func']}" for a in items]


def _spec(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CHAOS_SPECS / name).read_text())
    return doc


def test_the_expected_files_are_there() -> None:
    assert sorted(path.name for path in FILES) == sorted(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_experiment_is_valid_and_expects_real_alerts(path: Path) -> None:
    experiment = validate_experiment(path)
    extension = chaosgate_extension(experiment, source=str(path))
    got = [(s.alertname, dict(s.labels), s.deadline_s) for s in extension.expected_alerts]
    want = EXPECTED[path.name]
    assert [(name, deadline) for name, _, deadline in got] == [(n, d) for n, _, d in want]
    labels_by_rule = rule_labels()
    for (name, labels, _), (_, wanted, _) in zip(got, want, strict=True):
        assert wanted.items() <= labels.items()
        own = {k: v for k, v in labels.items() if k not in SERIES_LABELS.get(name, set())}
        assert own.items() <= labels_by_rule[name].items(), f"{name}: labels the rule never sets"
    assert extension.resolve_deadline_s == RESOLVE_DEADLINES.get(path.name, 60)
    assert extension.keeps_slo is (path.name == "kill-orders-pod.json")


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_experiment_shape_and_namespaces(path: Path) -> None:
    experiment: dict[str, Any] = validate_experiment(path)
    assert experiment["runtime"]["rollbacks"]["strategy"] == "always"
    assert experiment["steady-state-hypothesis"]["probes"]
    assert experiment["rollbacks"], "every fault needs a rollback"
    first = experiment["method"][0]
    assert first["type"] == "action"
    # only restaurant is touched, and every activity says so (none relies on a default)
    activities = check_kubernetes_scope(
        experiment, source=str(path), target="local-k8s", chaos="kubernetes",
        namespaces=("restaurant",), allowlist="built-in target 'local-k8s'",
    )  # fmt: skip
    for activity in activities:
        if activity.call in NODE_LEVEL:
            continue  # the node's own filesystems, the platform's gateway: no namespace
        assert activity.namespaces, f"{activity.name} acts on no namespace"
        assert {use.namespace for use in activity.namespaces} == {"restaurant"}
        assert all(not use.via.startswith("no ns") for use in activity.namespaces)
    with pytest.raises(Exception, match="does not allow"):
        check_kubernetes_scope(
            experiment, source=str(path), target="x", chaos="kubernetes",
            namespaces=("payments",), allowlist="x",
        )  # fmt: skip


def test_pod_kills_wait_for_the_deployment_in_method_hypothesis_and_rollback() -> None:
    for name, deployment, everything in (
        ("kill-orders-pod.json", "orders", False),
        ("kill-users-pods.json", "users", True),
        ("kill-iot-pods.json", "iot", True),
    ):
        experiment = validate_experiment(K8S / name)
        kill = experiment["method"][0]["provider"]
        assert f"{kill['module']}.{kill['func']}" == "chaosk8s.pod.actions.terminate_pods"
        assert kill["arguments"]["label_selector"] == f"app.kubernetes.io/name={deployment}"
        assert kill["arguments"].get("all", False) is everything
        if not everything:
            assert kill["arguments"]["qty"] == 1
        probe = "chaosk8s.deployment.probes.deployment_fully_available"
        after = experiment["method"][1]
        assert (after["type"], _calls(experiment, "method")[1]) == ("probe", probe)
        assert after["provider"]["arguments"]["name"] == deployment
        assert after["provider"]["arguments"]["timeout"] == 60
        assert probe in _calls(experiment, "hypothesis")
        assert _calls(experiment, "rollbacks") == [probe]


def test_the_crash_loop_crashes_the_users_container_in_place_three_times() -> None:
    experiment = validate_experiment(K8S / "crash-loop-users-container.json")
    crash = experiment["method"][0]
    assert _calls(experiment, "method")[0] == "chaosgate.chaos.k8s_crash.crash_container"
    arguments = crash["provider"]["arguments"]
    assert arguments["label_selector"] == "app.kubernetes.io/name=users"
    assert (arguments["container"], arguments["times"]) == ("users", 3)
    # one wait covers the longest fresh back-off (20 s) with a boot and a readiness probe
    assert 20 + 5 + 2 < arguments["timeout_s"] <= 60
    assert arguments["settle_s"] >= 1  # Prometheus scrapes each new process (every 1 s)
    everything = str(experiment)
    assert "terminate_pods" not in everything  # a replaced pod is a new series: no restarts
    probe = "chaosk8s.deployment.probes.deployment_fully_available"
    assert _calls(experiment, "method")[1] == probe
    assert probe in _calls(experiment, "hypothesis")
    assert _calls(experiment, "rollbacks") == [probe]
    # PodRestartingOften resolves when its second restart leaves the 5-minute window
    extension = chaosgate_extension(experiment, source="crash-loop")
    assert extension.resolve_deadline_s >= 300


def test_the_endpoints_fault_keeps_the_service_and_its_cluster_ip() -> None:
    experiment = validate_experiment(K8S / "remove-orders-endpoints.json")
    assert _calls(experiment, "method") == ["chaosgate.chaos.k8s_actions.detach_service"]
    assert _calls(experiment, "rollbacks") == [
        "chaosgate.chaos.k8s_actions.reattach_service",
        "chaosgate.chaos.k8s_probes.service_has_ready_pods",
    ]
    everything = str(experiment)
    assert "delete_service" not in everything and "remove_service_endpoint" not in everything


@pytest.mark.parametrize("kind", ["cpu", "memory"])
def test_stress_experiments_start_a_pinned_job_and_prove_it_gone(kind: str) -> None:
    experiment = validate_experiment(K8S / f"saturate-node-{kind}.json")
    assert experiment["configuration"]["stress_node"] == LOCAL_NODE_NAME
    start = experiment["method"][0]
    assert start["provider"]["func"] == "start_stress"
    arguments = start["provider"]["arguments"]
    assert arguments["spec_path"] == f"manifests/chaos/stress-{kind}.yaml"
    assert arguments["node_name"] == "${stress_node}"
    # the fault is held until the alert's deadline has passed, or a slow fill is never seen
    [deadline] = [a["deadline_s"] for a in experiment["extensions"][0]["expected_alerts"]]
    assert start["pauses"]["after"] >= deadline >= 30
    stop, gone = experiment["rollbacks"]
    spec = _spec(f"stress-{kind}.yaml")
    assert stop["provider"]["func"] == "stop_stress"
    assert stop["provider"]["arguments"]["name"] == spec["metadata"]["name"]
    assert gone["provider"]["func"] == "pods_gone"
    labels = spec["spec"]["template"]["metadata"]["labels"]
    selector = gone["provider"]["arguments"]["label_selector"]
    assert dict(pair.split("=") for pair in selector.split(",")).items() <= labels.items()
    assert gone["provider"]["arguments"]["timeout_s"] > 0


# --- the stress specs ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["cpu", "memory"])
def test_stress_spec_is_bounded_without_a_rollback(kind: str) -> None:
    job = _spec(f"stress-{kind}.yaml")
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    assert job["metadata"]["namespace"] == "restaurant"
    spec = job["spec"]
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and spec["backoffLimit"] == 0
    timeout_s = int(re.search(r"(\d+)s", str(pod["containers"][0])).group(1))  # type: ignore[union-attr]
    assert 45 < timeout_s < spec["activeDeadlineSeconds"] <= 300
    assert 0 < spec["ttlSecondsAfterFinished"] <= 300
    assert pod["nodeSelector"] == {"kubernetes.io/hostname": LOCAL_NODE_NAME}
    [container] = pod["containers"]
    assert container["image"].startswith("docker.io/colinianking/stress-ng")
    assert "resources" not in container  # a limit would keep it from saturating the node


@pytest.mark.skipif(STRESS_NG is None, reason="Debian's stress-ng is not installed")
@pytest.mark.tools
def test_cpu_stress_options_are_stress_ngs_own() -> None:
    [container] = _spec("stress-cpu.yaml")["spec"]["template"]["spec"]["containers"]
    assert "command" not in container  # the image's entrypoint is stress-ng
    args = container["args"]
    assert args[args.index("--timeout") + 1] == "75s"
    assert args[args.index("--sched") + 1] == "idle"
    done = subprocess.run(
        [str(STRESS_NG), *args, "--dry-run"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


def _run_memory_script(
    tmp_path: Path, leave_percent: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    [container] = _spec("stress-memory.yaml")["spec"]["template"]["spec"]["containers"]
    fake = tmp_path / "stress-ng"
    record = tmp_path / "args"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    env = {e["name"]: e["value"] for e in container["env"]}
    env.update(LEAVE_AVAILABLE_PERCENT=leave_percent, PATH=f"{tmp_path}:{os.environ['PATH']}")
    done = subprocess.run(
        [*container["command"], *container["args"]],
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return done, record


def _meminfo_kb() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, value = line.split(":", 1)
        fields[name] = int(value.split()[0])
    return fields


def test_memory_stress_takes_what_is_available_minus_what_it_leaves(tmp_path: Path) -> None:
    [container] = _spec("stress-memory.yaml")["spec"]["template"]["spec"]["containers"]
    script = container["args"][0]
    assert "$(" not in script  # Kubernetes would read it as a $(VAR) reference
    leave = {e["name"]: e["value"] for e in container["env"]}["LEAVE_AVAILABLE_PERCENT"]
    assert leave == "5"  # NodeHighMemory fires above 90 % used

    before = _meminfo_kb()
    done, record = _run_memory_script(tmp_path, leave)
    after = _meminfo_kb()
    assert done.returncode == 0, done.stdout + done.stderr
    args = record.read_text().split()
    taken_kb = int(args[args.index("--vm-bytes") + 1].removesuffix("k"))
    expected = [m["MemAvailable"] - m["MemTotal"] * 5 // 100 for m in (before, after)]
    assert min(expected) - 262144 <= taken_kb <= max(expected) + 262144  # 256 MB of drift
    assert args[args.index("--timeout") + 1] == "95s"  # past the 80 s the experiment holds it
    assert {"--vm-madvise", "hugepage", "--vm-keep", "--oomable"} <= set(args)
    assert args[args.index("--vm-method") + 1] == "write64"
    assert args[args.index("--vm-hang") + 1] == "0"
    if STRESS_NG is not None:  # and stress-ng itself accepts them
        check = subprocess.run(
            [STRESS_NG, *args, "--dry-run"], capture_output=True, text=True, timeout=30
        )
        assert check.returncode == 0, check.stderr


def test_memory_stress_refuses_when_nothing_is_left_to_take(tmp_path: Path) -> None:
    done, record = _run_memory_script(tmp_path, "100")
    assert done.returncode == 1
    assert "nothing to fill" in done.stdout
    assert not record.exists()
