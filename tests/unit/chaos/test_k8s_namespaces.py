"""The namespace allowlist: what an experiment acts on, told before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaosgate.chaos.experiments import ExperimentError
from chaosgate.chaos.k8s_namespaces import (
    acts_on_kubernetes,
    check_kubernetes_scope,
    experiment_activities,
)
from tests.unit.chaos.support import activity, experiment

SOURCE = "experiments/k8s/x.json"
ALLOWLIST = "target file 'prod.yaml'"


def _k8s(label: str, module: str, func: str, /, **arguments: Any) -> dict[str, Any]:
    return {
        "type": "action",
        "name": label,
        "provider": {"type": "python", "module": module, "func": func, "arguments": arguments},
    }


def _kill(**arguments: Any) -> dict[str, Any]:
    return _k8s(
        "kill-orders", "chaosk8s.pod.actions", "terminate_pods",
        label_selector="app=orders", **arguments,
    )  # fmt: skip


def _refusal(doc: dict[str, Any], namespaces: tuple[str, ...] = ("restaurant",)) -> str:
    with pytest.raises(ExperimentError) as info:
        check_kubernetes_scope(
            doc, source=SOURCE, target="prod", chaos="kubernetes", namespaces=namespaces,
            allowlist=ALLOWLIST,
        )  # fmt: skip
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{SOURCE}: activity ")
    return message


def test_an_activity_in_an_allowed_namespace_passes() -> None:
    doc = experiment(method=[_kill(ns="restaurant")])
    activities = check_kubernetes_scope(
        doc, source=SOURCE, target="prod", chaos="kubernetes", namespaces=("restaurant",),
        allowlist=ALLOWLIST,
    )  # fmt: skip
    [kill] = [a for a in activities if a.name == "kill-orders"]
    assert (kill.where, kill.call) == ("method[0]", "chaosk8s.pod.actions.terminate_pods")
    assert [use.namespace for use in kill.namespaces] == ["restaurant"]
    assert acts_on_kubernetes(activities)


def test_a_namespace_outside_the_allowlist_is_refused_in_one_line() -> None:
    message = _refusal(experiment(method=[_kill(ns="payments")]))
    assert "'kill-orders' (method[0], chaosk8s.pod.actions.terminate_pods)" in message
    assert "acts on namespace 'payments' (its ns argument)" in message
    assert "target 'prod' does not allow" in message
    assert "kubernetes.namespaces is ['restaurant'] (target file 'prod.yaml')" in message
    assert "CHAOSGATE_KUBERNETES__NAMESPACES=restaurant,payments" in message


def test_a_missing_ns_is_chaosk8s_default_namespace() -> None:
    message = _refusal(experiment(method=[_kill()]))
    assert "namespace 'default' (no ns argument: chaosk8s's default)" in message


def test_probes_and_rollbacks_are_checked_too() -> None:
    probe = {
        **_k8s(
            "orders-up", "chaosk8s.deployment.probes", "deployment_available_and_healthy",
            name="orders", ns="kube-system",
        ),
        "type": "probe",
        "tolerance": True,
    }  # fmt: skip
    message = _refusal(experiment(hypothesis=[probe], method=[_kill(ns="restaurant")]))
    assert "'orders-up' (steady-state-hypothesis.probes[0]" in message
    rollback = _k8s(
        "reattach", "chaosgate.chaos.k8s_actions", "reattach_service", name="orders", ns="payments"
    )
    message = _refusal(experiment(method=[_kill(ns="restaurant")], rollbacks=[rollback]))
    assert "'reattach' (rollbacks[0], chaosgate.chaos.k8s_actions.reattach_service)" in message


def test_our_own_activities_default_to_restaurant() -> None:
    rollback = _k8s("reattach", "chaosgate.chaos.k8s_actions", "reattach_service", name="orders")
    [*_, reattach] = experiment_activities(experiment(rollbacks=[rollback]), source=SOURCE)
    assert [(u.namespace, u.via) for u in reattach.namespaces] == [
        ("restaurant", "no ns argument: chaosgate's default")
    ]


def test_a_spec_file_namespace_counts(tmp_path: Path) -> None:
    spec = tmp_path / "stress.yaml"
    spec.write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: s, namespace: kube-system}\n"
    )
    start = _k8s(
        "stress", "chaosgate.chaos.k8s_actions", "start_stress",
        spec_path=str(spec), ns="restaurant",
    )  # fmt: skip
    message = _refusal(experiment(method=[start]))
    assert f"namespace 'kube-system' (metadata.namespace of Job in {spec})" in message


def test_a_missing_spec_file_is_refused_before_the_run() -> None:
    start = _k8s(
        "stress", "chaosgate.chaos.k8s_actions", "start_stress",
        spec_path="manifests/chaos/nope.yaml", ns="restaurant",
    )  # fmt: skip
    message = _refusal(experiment(method=[start]))
    assert "spec file 'manifests/chaos/nope.yaml' not found" in message


def test_a_configured_namespace_is_resolved_as_chaoslib_would() -> None:
    doc = experiment(method=[_kill(ns="${app_ns}")])
    doc["configuration"] = {"app_ns": "payments"}
    assert "acts on namespace 'payments'" in _refusal(doc)
    doc["configuration"] = {"app_ns": "restaurant"}
    check_kubernetes_scope(
        doc, source=SOURCE, target="prod", chaos="kubernetes", namespaces=("restaurant",),
        allowlist=ALLOWLIST,
    )  # fmt: skip
    doc["configuration"] = {}
    assert "cannot be told before the run" in _refusal(doc)


def test_a_local_chaos_target_refuses_kubernetes_experiments() -> None:
    with pytest.raises(ExperimentError) as info:
        check_kubernetes_scope(
            experiment(method=[_kill(ns="restaurant")]), source=SOURCE, target="local",
            chaos="local", namespaces=("restaurant",), allowlist=ALLOWLIST,
        )  # fmt: skip
    assert "target 'local' takes local chaos only" in str(info.value)
    assert "--target local-k8s" in str(info.value)


def test_experiments_without_kubernetes_activities_pass_everywhere() -> None:
    doc = experiment(method=[activity("action", "break", "break_it")])
    doc["method"].append({"ref": "break"})
    activities = check_kubernetes_scope(
        doc, source=SOURCE, target="local", chaos="local", namespaces=("restaurant",),
        allowlist=ALLOWLIST,
    )  # fmt: skip
    assert not acts_on_kubernetes(activities)
    assert [a.where for a in activities] == [
        "steady-state-hypothesis.probes[0]",
        "method[0]",
        "rollbacks[0]",
    ]


def test_an_unknown_function_is_an_experiment_error() -> None:
    doc = experiment(method=[_k8s("x", "chaosk8s.pod.actions", "no_such_function", ns="a")])
    with pytest.raises(
        ExperimentError, match=r"cannot find chaosk8s\.pod\.actions\.no_such_function"
    ):
        experiment_activities(doc, source=SOURCE)
