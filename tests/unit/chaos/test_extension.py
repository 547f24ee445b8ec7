"""The chaosgate extension parser and validate_experiment's errors (each names the file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chaosgate.chaos.experiments import (
    DEFAULT_DEADLINE_S,
    DEFAULT_RESOLVE_DEADLINE_S,
    ExpectedInhibitionSpec,
    ExperimentError,
    chaosgate_extension,
    expected_alerts,
    validate_experiment,
)
from chaosgate.vocabulary import ExpectedAlert
from tests.unit.chaos.support import activity, experiment, write

SOURCE = "experiments/local/x.json"


def _with(extension: Any) -> dict[str, Any]:
    doc = experiment()
    doc["extensions"] = [{"name": "other"}, extension]
    return doc


def _error(doc: dict[str, Any]) -> str:
    with pytest.raises(ExperimentError) as info:
        expected_alerts(doc, source=SOURCE)
    message = str(info.value)
    assert message.startswith(f"{SOURCE}: "), message
    return message


def test_expected_alerts_are_read_with_defaults() -> None:
    doc = _with(
        {
            "name": "chaosgate",
            "expected_alerts": [
                {"alertname": "UsersServiceDown", "labels": {"service": "users"}, "deadline_s": 20},
                {"alertname": "NodeHighCPU"},
            ],
        }
    )
    assert expected_alerts(doc) == [
        ExpectedAlert("UsersServiceDown", {"service": "users"}, 20.0),
        ExpectedAlert("NodeHighCPU", {}, DEFAULT_DEADLINE_S),
    ]
    assert chaosgate_extension(doc).resolve_deadline_s == DEFAULT_RESOLVE_DEADLINE_S


def test_an_empty_list_expects_no_alert() -> None:
    doc = _with({"name": "chaosgate", "expected_alerts": [], "resolve_deadline_s": 90})
    extension = chaosgate_extension(doc)
    assert extension.expected_alerts == ()
    assert extension.resolve_deadline_s == 90.0


def test_missing_alertname_names_the_file_and_key() -> None:
    message = _error(_with({"name": "chaosgate", "expected_alerts": [{"labels": {}}]}))
    assert "extensions[1] (chaosgate).expected_alerts[0]" in message
    assert "missing 'alertname'" in message


@pytest.mark.parametrize("deadline", [-5, 0, "30", True, float("nan")])
def test_a_deadline_must_be_a_positive_number(deadline: object) -> None:
    alert = {"alertname": "NodeHighCPU", "deadline_s": deadline}
    message = _error(_with({"name": "chaosgate", "expected_alerts": [alert]}))
    assert "expected_alerts[0].deadline_s" in message
    assert repr(deadline) in message


def test_a_negative_resolve_deadline_is_refused() -> None:
    message = _error(_with({"name": "chaosgate", "expected_alerts": [], "resolve_deadline_s": -1}))
    assert "resolve_deadline_s: -1" in message


def test_an_unknown_key_in_an_alert_is_refused() -> None:
    alert = {"alertname": "NodeHighCPU", "deadline": 30}
    message = _error(_with({"name": "chaosgate", "expected_alerts": [alert]}))
    assert "unknown key 'deadline'" in message
    assert "deadline_s" in message


def test_an_unknown_key_in_the_extension_is_refused() -> None:
    message = _error(_with({"name": "chaosgate", "expected_alerts": [], "alerts": []}))
    assert "unknown key 'alerts'" in message


@pytest.mark.parametrize(
    ("extension", "fragment"),
    [
        ({"name": "chaosgate"}, "missing 'expected_alerts'"),
        ({"name": "chaosgate", "expected_alerts": {"alertname": "X"}}, "must be a list"),
        ({"name": "chaosgate", "expected_alerts": ["NodeHighCPU"]}, "expected an object"),
        ({"name": "chaosgate", "expected_alerts": [{"alertname": ""}]}, "non-empty string"),
        (
            {"name": "chaosgate", "expected_alerts": [{"alertname": "X", "labels": {"a": 1}}]},
            "labels",
        ),
    ],
)
def test_malformed_extensions_are_refused(extension: dict[str, Any], fragment: str) -> None:
    assert fragment in _error(_with(extension))


def test_an_experiment_without_the_extension_is_refused() -> None:
    doc = experiment()
    del doc["extensions"]
    assert "no 'extensions' block" in _error(doc)
    doc["extensions"] = [{"name": "other"}]
    assert "no extension named 'chaosgate'" in _error(doc)
    doc["extensions"] = [
        {"name": "chaosgate", "expected_alerts": []},
        {"name": "chaosgate", "expected_alerts": []},
    ]
    assert "2 extensions named 'chaosgate'" in _error(doc)


def test_validate_names_the_file_for_every_kind_of_problem(tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    with pytest.raises(ExperimentError, match=r"missing\.json: does not exist; "):
        validate_experiment(missing)

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ExperimentError, match=r"broken\.json: line 1, column 2: invalid JSON"):
        validate_experiment(broken)

    # chaoslib's own check binds the activity's arguments to the function's signature
    doc = experiment(method=[activity("action", "break", "break_it", force=True)])
    with pytest.raises(ExperimentError, match=r"bad-args\.json: invalid experiment: .*force"):
        validate_experiment(write(tmp_path, doc, "bad-args.json"))

    doc = experiment()
    doc["extensions"] = [{"name": "chaosgate", "expected_alerts": [{"deadline_s": 3}]}]
    with pytest.raises(ExperimentError, match=r"no-name\.json: extensions\[0\]"):
        validate_experiment(write(tmp_path, doc, "no-name.json"))


def test_validate_returns_the_experiment(tmp_path: Path) -> None:
    doc = experiment(title="fine")
    assert validate_experiment(write(tmp_path, doc))["title"] == "fine"


def test_label_patterns_and_expected_inhibitions_are_read() -> None:
    doc = _with(
        {
            "name": "chaosgate",
            "expected_alerts": [
                {"alertname": "NodeDiskAlmostFull", "label_patterns": {"mountpoint": ".*/d-0"}}
            ],
            "expected_inhibitions": [
                {
                    "alertname": "DatabaseTooManyConnections",
                    "labels": {"service": "orders"},
                    "inhibited_by": "DatabasePoolExhausted",
                }
            ],
        }
    )
    extension = chaosgate_extension(doc)
    assert extension.expected_alerts[0].label_patterns == {"mountpoint": ".*/d-0"}
    (inhibition,) = extension.expected_inhibitions
    assert inhibition == ExpectedInhibitionSpec(
        ExpectedAlert("DatabaseTooManyConnections", {"service": "orders"}),
        "DatabasePoolExhausted",
    )


@pytest.mark.parametrize(
    ("extension", "fragment"),
    [
        (
            {"expected_alerts": [{"alertname": "A", "label_patterns": {"m": "("}}]},
            "expected_alerts[0].label_patterns.m: '(' is not a regular expression",
        ),
        (
            {"expected_alerts": [{"alertname": "A", "label_patterns": ["m"]}]},
            "label_patterns: ['m'] must map label names to string values",
        ),
        ({"expected_alerts": [], "expected_inhibitions": {}}, "must be a list"),
        (
            {"expected_alerts": [], "expected_inhibitions": [{"alertname": "A"}]},
            "expected_inhibitions[0].inhibited_by: None must name the alert that inhibits it",
        ),
        (
            {
                "expected_alerts": [],
                "expected_inhibitions": [{"alertname": "A", "inhibited_by": "B", "by": "C"}],
            },
            "expected_inhibitions[0]: unknown key 'by'",
        ),
        (
            {"expected_alerts": [{"alertname": "A", "inhibited_by": "B"}]},
            "expected_alerts[0]: unknown key 'inhibited_by'",
        ),
    ],
)
def test_bad_patterns_and_inhibitions_are_refused(extension: dict[str, Any], fragment: str) -> None:
    assert fragment in _error(_with({"name": "chaosgate", **extension}))
