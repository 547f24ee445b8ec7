"""validate_experiment before chaoslib: the file read bounded, every field of its JSON type,
numbers bounded, the kind of chaos of each activity against the target's, argument types."""

from __future__ import annotations

import copy
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chaosgate.chaos.experiment_arguments import argument_bounds
from chaosgate.chaos.experiment_kinds import ACTIVITY_KINDS, activity_kinds
from chaosgate.chaos.experiments import ExperimentError, validate_experiment
from chaosgate.target_values import ChaosKind

ROOT = Path(__file__).resolve().parents[3]
LOCAL = ROOT / "experiments" / "local"
K8S = ROOT / "experiments" / "k8s"
KILL = json.loads((LOCAL / "kill-users-service.json").read_text())


def error_of(path: Path, **kinds: Any) -> str:
    with pytest.raises(ExperimentError) as info:
        validate_experiment(path, **kinds)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


def mutated(tmp_path: Path, change: Callable[[dict[str, Any]], object]) -> Path:
    doc = copy.deepcopy(KILL)
    change(doc)
    path = tmp_path / "x.json"
    path.write_text(json.dumps(doc))
    return path


def method(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["method"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(method="kill"), "method: 'kill' is not a list; write a JSON array"),
        (lambda d: d.update(method=["kill"]), "method[0]: 'kill' is not an object"),
        (lambda d: method(d).update(provider="python"), "method[0].provider: 'python' is not an"),
        (
            lambda d: method(d)["provider"].update(arguments=["users"]),
            "method[0].provider.arguments: ['users'] is not an object",
        ),
        (lambda d: method(d)["provider"].update(module=3), "method[0].provider.module: 3 is not a"),
        (
            lambda d: method(d)["provider"].update(type="shell"),
            "method[0].provider: has type 'shell', not one of 'python', 'process', 'http'",
        ),
        (lambda d: method(d).update(type=1), "method[0].type: 1 is not one of 'action' or 'probe'"),
        (lambda d: method(d).update(name=5), "method[0].name: 5 is not a string"),
        (lambda d: method(d).update(pauses="20"), "method[0].pauses: '20' is not an object"),
        (
            lambda d: method(d).update(pauses={"after": 1e23}),
            "method[0].pauses.after: 1e+23 is not a number of seconds from 0 to 3600",
        ),
        (lambda d: method(d).update(background="yes"), "method[0].background: 'yes' is not a"),
        (lambda d: d.update(rollbacks="none"), "rollbacks: 'none' is not a list"),
        (lambda d: d.update(rollbacks=[None]), "rollbacks[0]: null is not an object"),
        (lambda d: d.update(rollbacks=[{"ref": 3}]), "rollbacks[0].ref: 3 is not a string"),
        (lambda d: d.update({"steady-state-hypothesis": "ok"}), "steady-state-hypothesis: 'ok'"),
        (lambda d: d.update(title=["x"]), "title: ['x'] is not a string"),
        (lambda d: d.update(tags="x"), "tags: 'x' is not a list"),
        (lambda d: d.update(configuration=[1]), "configuration: [1] is not an object"),
        (lambda d: d.update(secrets="x"), "secrets: 'x' is not an object"),
        (
            lambda d: d.update(secrets={"k8s": {"token": {"type": "vault", "path": "x"}}}),
            "secrets.k8s.token: is not a secret chaosgate reads",
        ),
        (lambda d: d.update(extensions={"name": "chaosgate"}), "extensions: is not a list"),
        (lambda d: d.pop("description"), "description: is missing; add it"),
        (
            lambda d: d.update(
                controls=[{"name": "c", "provider": {"type": "python", "module": "no.such.ctl"}}]
            ),
            "controls[0].provider.module: 'no.such.ctl' is not a Python module chaosgate can",
        ),
        (
            lambda d: d["extensions"][0]["expected_alerts"][0].update(deadline_s=1e12),
            "expected_alerts[0].deadline_s: 1000000000000.0 must be a number of seconds > 0 and "
            "<= 3600",
        ),
        (
            lambda d: d["extensions"][0].update(resolve_deadline_s=1e23),
            "resolve_deadline_s: 1e+23 must be a number of seconds > 0 and <= 3600",
        ),
        (
            lambda d: method(d)["provider"]["arguments"].update(name=5),
            "method[0].provider.arguments.name (chaosgate.chaos.local_actions.kill_service): 5 "
            "is not of the type the activity takes (str)",
        ),
        (
            lambda d: d["rollbacks"][0]["provider"]["arguments"].update(timeout_s=1e23),
            "rollbacks[0].provider.arguments.timeout_s (chaosgate.chaos.local_actions."
            "start_program): 1e+23 is not seconds from 0 to 3600",
        ),
    ],
)
def test_a_field_of_the_wrong_type_or_size_is_one_line(
    tmp_path: Path, change: Callable[[dict[str, Any]], object], expected: str
) -> None:
    assert expected in error_of(mutated(tmp_path, change))


def test_numbers_that_are_not_finite_are_refused_by_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    text = json.dumps(KILL)
    path.write_text(text.replace('"after": 20', '"after": NaN'))
    finite = "is not a finite number; write a number such as 30"
    assert error_of(path) == f"method[0].pauses.after: nan {finite}"
    path.write_text(text.replace('"after": 20', '"after": 1e400'))
    assert error_of(path) == f"method[0].pauses.after: inf {finite}"
    yaml_path = tmp_path / "x.yaml"
    yaml_path.write_text(text.replace('"after": 20', '"after": .nan'))
    assert error_of(yaml_path) == f"method[0].pauses.after: nan {finite}"


def test_argument_bounds_follow_their_names(tmp_path: Path) -> None:
    faults = json.loads((LOCAL / "gateway-error-ratio.json").read_text())
    faults["method"][0]["provider"]["arguments"]["error_ratio"] = 5
    path = tmp_path / "ratio.json"
    path.write_text(json.dumps(faults))
    assert (
        "arguments.error_ratio (chaosgate.chaos.local_actions.set_faults): 5 is not a share "
        in (error_of(path))
    )
    assert argument_bounds("error_ratio")[:2] == (0.0, 1.0)
    assert argument_bounds("fill_percent")[:2] == (0.0, 100.0)
    assert argument_bounds("latency_ms")[:2] == (0.0, 3_600_000.0)
    assert argument_bounds("timeout")[:2] == (0.0, 3600.0)
    assert argument_bounds("duration_s")[:2] == (0.0, 3600.0)
    assert argument_bounds("lines_per_s")[:2] == (0.0, 1_000_000)  # a rate, not seconds


@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", ["", ".", "/", "dir", "fifo.json", "/dev/zero", "big.json"])
def test_paths_that_name_no_experiment_file(tmp_path: Path, name: str) -> None:
    (tmp_path / "dir").mkdir()
    os.mkfifo(tmp_path / "fifo.json")
    with (tmp_path / "big.json").open("wb") as handle:
        handle.truncate(5 << 20)
    path = Path(name) if name in ("", ".", "/", "/dev/zero") else tmp_path / name
    with pytest.raises(ExperimentError) as info:
        validate_experiment(name if name == "" else path)
    message = str(info.value)
    assert "\n" not in message
    expected = {
        "": "is an empty path",
        ".": "is not a .json, .yaml or .yml file",
        "/": "is not a .json, .yaml or .yml file",
        "dir": "is not a .json, .yaml or .yml file",
        "fifo.json": "is a FIFO (named pipe), not a regular file",
        "/dev/zero": "is not a .json, .yaml or .yml file",
        "big.json": "more than the 1 MiB an input file may hold",
    }
    assert expected[name] in message


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, '{"a":' * 70 + "1" + "}" * 70],
)
def test_deep_json_is_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "deep.json"
    path.write_text(text)
    assert "nested more than 64 levels deep" in error_of(path)


def test_recursive_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("title: &a [*a]\n")
    assert "alias *a refers to the value that contains it" in error_of(path)


def kinds_error(path: Path, chaos: ChaosKind, target: str) -> str:
    return error_of(path, target=target, chaos=chaos)


def test_a_local_experiment_is_refused_on_a_kubernetes_target() -> None:
    message = kinds_error(LOCAL / "kill-users-service.json", "kubernetes", "local-k8s")
    assert message.startswith(
        "activity 'kill-users-service' (method[0].provider, chaosgate.chaos.local_actions."
        "kill_service) is local chaos, but target 'local-k8s' takes kubernetes chaos only; use "
        "an experiment of experiments/k8s/"
    )


def test_a_kubernetes_experiment_is_refused_on_a_local_target() -> None:
    message = kinds_error(K8S / "kill-users-pods.json", "local", "local")
    assert "is Kubernetes chaos, but target 'local' takes local chaos only" in message
    assert "chaosk8s." in message


def test_every_shipped_experiment_is_valid_on_its_own_kind_only() -> None:
    for folder, kind, other in ((LOCAL, "local", "kubernetes"), (K8S, "kubernetes", "local")):
        for path in sorted(folder.glob("*.json")):
            validate_experiment(path, target="t", chaos=kind)  # type: ignore[arg-type]
            with pytest.raises(ExperimentError, match=r"takes .* chaos only"):
                validate_experiment(path, target="t", chaos=other)  # type: ignore[arg-type]


def test_the_node_level_local_actions_serve_both_kinds() -> None:
    # experiments/k8s/silence-iot-devices.json and fill-node-disk.json use them on local-k8s
    assert set(ACTIVITY_KINDS) == {
        "chaosgate.chaos.local_actions.silence_devices",
        "chaosgate.chaos.local_actions.decommission_devices",
        "chaosgate.chaos.local_actions.fill_disk",
        "chaosgate.chaos.local_actions.release_disk",
    }
    for name in ACTIVITY_KINDS:
        module, func = name.rsplit(".", 1)
        assert activity_kinds(module, func) == ("local", "kubernetes")
    assert activity_kinds("chaosgate.chaos.local_actions", "kill_service") == ("local",)
    assert activity_kinds("chaosk8s.pod.actions", "terminate_pods") == ("kubernetes",)
    assert activity_kinds("chaosgate.chaos.k8s_faults", "set_pod_faults") == ("kubernetes",)


def test_a_module_of_unknown_kind_is_refused_before_it_is_imported(tmp_path: Path) -> None:
    path = mutated(
        tmp_path,
        lambda d: method(d)["provider"].update(module="antigravity", func="geohash", arguments={}),
    )
    message = kinds_error(path, "local", "local")
    assert "calls antigravity.geohash, whose kind of chaos chaosgate does not know" in message
    assert "antigravity" not in sys.modules
