"""Every experiment under experiments/local/ is valid and expects alerts the rules really raise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaosgate.chaos.experiments import chaosgate_extension, validate_experiment
from tests.unit.chaos.support import rule_labels

REPO_ROOT = Path(__file__).resolve().parents[3]
LOCAL = REPO_ROOT / "experiments" / "local"
FILES = sorted(LOCAL.glob("*.json"))

# what each fault must raise (alertname, labels), per DESIGN.md and stack/prometheus/rules.yml
EXPECTED: dict[str, list[tuple[str, dict[str, str]]]] = {
    "kill-users-service.json": [("UsersServiceDown", {"service": "users"})],
    "stop-log-shipper.json": [],
    "saturate-cpu.json": [("NodeHighCPU", {"component": "node"})],
    "gateway-error-ratio.json": [("GatewayHighErrorRate", {"service": "gateway"})],
    "gateway-latency.json": [("GatewayHighLatency", {"service": "gateway"})],
}


def test_the_expected_files_are_there() -> None:
    assert sorted(path.name for path in FILES) == sorted(EXPECTED)


@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_experiment_is_valid(path: Path) -> None:
    experiment = validate_experiment(path)
    extension = chaosgate_extension(experiment, source=str(path))

    got = [(spec.alertname, dict(spec.labels)) for spec in extension.expected_alerts]
    want = EXPECTED[path.name]
    assert [name for name, _ in got] == [name for name, _ in want]
    for (_, labels), (_, wanted) in zip(got, want, strict=True):
        assert wanted.items() <= labels.items()
    assert all(spec.deadline_s == 30 for spec in extension.expected_alerts)
    assert extension.resolve_deadline_s == 60

    # the labels expected are ones the rule really sets
    labels_by_rule = rule_labels()
    for spec in extension.expected_alerts:
        assert spec.alertname in labels_by_rule, f"{path.name}: no rule {spec.alertname}"
        assert spec.labels.items() <= labels_by_rule[spec.alertname].items()


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
    # the fault stays long enough for its alert to be seen (alerts fire within their deadline)
    assert first["pauses"]["after"] >= 20
    for activity in [*experiment["method"], *experiment["rollbacks"]]:
        assert activity["provider"]["module"].startswith("chaosgate.chaos.local_")


def test_faults_the_runner_alone_catches_say_so() -> None:
    experiment = validate_experiment(LOCAL / "stop-log-shipper.json")
    assert chaosgate_extension(experiment).expected_alerts == ()
    assert "log check" in experiment["description"]
