"""keeps_slo in the extension, the experiments' configuration from the runner, and the
failed actions and rollbacks a journal holds (chaoslib runs tiny experiments for real)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosgate.chaos.experiments import (
    ExperimentError,
    chaosgate_extension,
    failed_activities,
    run_experiment,
)
from chaosgate.chaos.timeline import Timeline
from tests.unit.chaos import fake_activities
from tests.unit.chaos.support import activity, experiment, write


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    fake_activities.reset()
    yield
    fake_activities.reset()


def _extension(**keys: Any) -> dict[str, Any]:
    return {"name": "chaosgate", "expected_alerts": [], **keys}


def test_keeps_slo_defaults_to_false_and_must_be_a_boolean() -> None:
    assert chaosgate_extension(experiment()).keeps_slo is False
    assert chaosgate_extension(experiment(extension=_extension(keeps_slo=True))).keeps_slo
    with pytest.raises(ExperimentError, match=r"keeps_slo: 'yes' must be true or false"):
        chaosgate_extension(experiment(extension=_extension(keeps_slo="yes")), source="x.json")


def test_the_runner_sets_declared_configuration_values_only(tmp_path: Path) -> None:
    doc = experiment(method=[activity("action", "remember-node", "remember", value="${node}")])
    doc["configuration"] = {"node": "chaosgate-local"}
    path = write(tmp_path, doc)

    run_experiment(path, timeline=Timeline())
    run_experiment(path, timeline=Timeline(), configuration={"node": "node-7", "other": "x"})

    calls = fake_activities.SYSTEM["calls"]
    assert isinstance(calls, list)
    assert [c for c in calls if str(c).startswith("remember:")] == [
        "remember:chaosgate-local",
        "remember:node-7",
    ]


def test_failed_actions_and_rollbacks_are_listed(tmp_path: Path) -> None:
    doc = experiment(
        method=[activity("action", "break", "break_it")],
        rollbacks=[
            activity("action", "repair", "repair"),
            activity("action", "check-gone", "fail", reason="pods still there: stress-1"),
        ],
    )
    journal = run_experiment(write(tmp_path, doc), timeline=Timeline())
    # chaoslib calls the run completed although a rollback failed
    assert journal["status"] == "completed"
    assert failed_activities(journal) == ["rollback: check-gone: pods still there: stress-1"]


def test_a_failed_method_action_is_listed(tmp_path: Path) -> None:
    doc = experiment(method=[activity("action", "inject", "fail", reason="no such node")])
    journal = run_experiment(write(tmp_path, doc), timeline=Timeline())
    assert failed_activities(journal) == ["method: inject: no such node"]
    assert failed_activities({"run": "nonsense", "rollbacks": [None]}) == []
