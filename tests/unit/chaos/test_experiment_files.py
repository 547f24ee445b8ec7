"""Every experiment under experiments/local/ is valid and expects alerts the rules really raise."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosgate.chaos.experiments import chaosgate_extension, validate_experiment
from refstack.launcher.alerting import INHIBIT_RULES
from tests.unit.chaos.support import RULES, rule_labels

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCAL = REPO_ROOT / "experiments" / "local"
FILES = sorted(LOCAL.glob("*.json"))

Expected = list[tuple[str, dict[str, str]]]

# what each fault must raise (alertname, labels), per refstack/prometheus/rules.yml
EXPECTED: dict[str, Expected] = {
    "kill-users-service.json": [("UsersServiceDown", {"service": "users"})],
    "stop-log-shipper.json": [],
    "log-flood.json": [],
    "saturate-cpu.json": [("NodeHighCPU", {"component": "node"})],
    "gateway-error-ratio.json": [("GatewayHighErrorRate", {"service": "gateway"})],
    "gateway-latency.json": [("GatewayHighLatency", {"service": "gateway"})],
    "users-error-ratio.json": [("UsersServiceHighErrorRate", {"service": "users"})],
    "kill-iot-service.json": [("IoTServiceDown", {"service": "iot"})],
    "iot-error-ratio.json": [("IoTServiceHighErrorRate", {"service": "iot"})],
    "silence-iot-devices.json": [("IoTDeviceOffline", {"service": "iot"})],
    "exhaust-orders-db-pool.json": [("DatabasePoolExhausted", {"service": "orders"})],
    "leak-users-db-connections.json": [("DatabaseTooManyConnections", {"service": "users"})],
    "orders-failing.json": [("OrderFailuresHigh", {"service": "orders"})],
    "drop-users-connections.json": [("NetworkHighErrorRate", {"upstream": "users"})],
    "saturate-memory.json": [("NodeHighMemory", {"component": "node"})],
    "fill-disk.json": [
        ("NodeDiskAlmostFull", {"component": "node"}),
        ("NodeDiskAlmostFull", {"component": "node"}),
    ],
    "crash-loop-users.json": [
        ("UsersServiceDown", {"service": "users"}),
        ("PodRestartingOften", {"service": "users"}),
        ("PodCrashLooping", {"service": "users"}),
    ],
}

# symptom alerts the fault raises that Alertmanager must mute: (alertname, inhibited_by)
INHIBITED: dict[str, list[tuple[str, str]]] = {
    "kill-iot-service.json": [("GatewayHighErrorRate", "IoTServiceDown")],
    "exhaust-orders-db-pool.json": [
        ("DatabaseTooManyConnections", "DatabasePoolExhausted"),
        ("GatewayHighErrorRate", "DatabasePoolExhausted"),
        ("GatewayHighLatency", "DatabasePoolExhausted"),
    ],
}

# deadlines other than the default 30 s, each with its reason in the file's description
DEADLINES: dict[tuple[str, str], float] = {
    ("saturate-memory.json", "NodeHighMemory"): 60,
    ("crash-loop-users.json", "PodRestartingOften"): 45,
    ("crash-loop-users.json", "PodCrashLooping"): 60,
}
RESOLVE_DEADLINES = {"crash-loop-users.json": 300}  # PodRestartingOften's 5-minute window

# labels an alert takes from its series, not from its rule (the rest must be the rule's own)
SERIES_LABELS: dict[str, set[str]] = {
    "DatabasePoolExhausted": {"service"},
    "DatabaseTooManyConnections": {"service"},
    "NetworkHighErrorRate": {"service", "upstream"},
    "NodeDiskAlmostFull": {"fstype", "mountpoint", "device"},
    "PodRestartingOften": {"service"},
    "PodCrashLooping": {"service"},
}


def test_the_expected_files_are_there() -> None:
    assert sorted(path.name for path in FILES) == sorted(EXPECTED)


def _check_labels(path: Path, name: str, labels: dict[str, str]) -> None:
    rule = rule_labels()
    assert name in rule, f"{path.name}: no rule {name}"
    own = {key: value for key, value in labels.items() if key in rule[name]}
    assert own.items() <= rule[name].items(), f"{path.name}: {name} {labels} vs {rule[name]}"
    others = set(labels) - set(rule[name])
    assert others <= SERIES_LABELS.get(name, set()), f"{path.name}: {name} has no {others}"


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_experiment_is_valid(path: Path) -> None:
    experiment = validate_experiment(path)
    extension = chaosgate_extension(experiment, source=str(path))

    got = [(spec.alertname, dict(spec.labels)) for spec in extension.expected_alerts]
    want = EXPECTED[path.name]
    assert [name for name, _ in got] == [name for name, _ in want]
    for (_, labels), (_, wanted) in zip(got, want, strict=True):
        assert wanted.items() <= labels.items()
    for spec in extension.expected_alerts:
        assert spec.deadline_s == DEADLINES.get((path.name, spec.alertname), 30)
    assert extension.resolve_deadline_s == RESOLVE_DEADLINES.get(path.name, 60)

    inhibited = [(i.alert.alertname, i.inhibited_by) for i in extension.expected_inhibitions]
    assert inhibited == INHIBITED.get(path.name, [])
    expected_names = {spec.alertname for spec in extension.expected_alerts}
    for inhibition in extension.expected_inhibitions:
        # the cause is itself expected: an inhibition needs its source firing
        assert inhibition.inhibited_by in expected_names
        assert inhibition.alert.deadline_s == 30
        _check_labels(path, inhibition.alert.alertname, dict(inhibition.alert.labels))

    # the labels expected are ones the rule (or its series) really sets
    for spec in extension.expected_alerts:
        _check_labels(path, spec.alertname, dict(spec.labels))


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_experiment_shape(path: Path) -> None:
    experiment: dict[str, Any] = validate_experiment(path)
    # `chaos run` alone plays the rollbacks whatever happens, as run_experiment does
    assert experiment["runtime"]["rollbacks"]["strategy"] == "always"
    assert experiment["steady-state-hypothesis"]["probes"]
    assert experiment["rollbacks"], "every fault needs a rollback"
    first = experiment["method"][0]
    assert first["type"] == "action"
    assert first["provider"]["module"] == "chaosgate.chaos.local_actions"
    # the fault stays long enough for its alert to be seen (alerts fire within their deadline):
    # a pause after it, or an action that holds the fault itself for a duration of its own
    held_s = first["pauses"]["after"] if "pauses" in first else 0
    assert max(held_s, first["provider"]["arguments"].get("duration_s", 0)) >= 20
    for activity in [*experiment["method"], *experiment["rollbacks"]]:
        assert activity["provider"]["module"].startswith("chaosgate.chaos.local_")


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_a_deadline_other_than_30_s_gives_its_reason(path: Path) -> None:
    experiment = validate_experiment(path)
    for spec in chaosgate_extension(experiment).expected_alerts:
        if spec.deadline_s != 30:
            assert f"deadline {spec.deadline_s:g} s" in experiment["description"]


def test_fill_disk_expects_one_alert_per_filesystem_it_makes() -> None:
    experiment = validate_experiment(LOCAL / "fill-disk.json")
    count = experiment["method"][0]["provider"]["arguments"]["count"]
    patterns = [
        spec.label_patterns["mountpoint"]
        for spec in chaosgate_extension(experiment).expected_alerts
    ]
    assert len(patterns) == count == 2
    for index, pattern in enumerate(patterns):
        assert re.fullmatch(pattern, f"/work/main/.stack/run/chaos/disk-fill-{index}")
        assert not re.fullmatch(pattern, f"/work/main/.stack/run/chaos/disk-fill-{1 - index}")


def test_every_expected_inhibition_is_an_inhibit_rule_of_alertmanager() -> None:
    rules = [
        (
            re.compile(rule["source_matchers"][0].split("=", 1)[1].lstrip("~").strip('"')),
            re.compile(rule["target_matchers"][0].split("=", 1)[1].lstrip("~").strip('"')),
        )
        for rule in INHIBIT_RULES
    ]
    assert rules and INHIBITED
    for name, pairs in INHIBITED.items():
        for target, source in pairs:
            matched = any(s.fullmatch(source) and t.fullmatch(target) for s, t in rules)
            assert matched, f"{name}: no inhibit rule mutes {target} while {source} fires"


def test_every_rule_has_an_experiment_that_raises_it() -> None:
    rules = yaml.safe_load(RULES.read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    raised = {name for alerts in EXPECTED.values() for name, _ in alerts}
    assert names <= raised, f"no experiment raises {sorted(names - raised)}"


def test_faults_the_runner_alone_catches_say_so() -> None:
    experiment = validate_experiment(LOCAL / "stop-log-shipper.json")
    assert chaosgate_extension(experiment).expected_alerts == ()
    assert "log check" in experiment["description"]
