from __future__ import annotations

import math
from pathlib import Path

import pytest

from scenarios.settings import (
    DEFAULT_WEIGHTS,
    IoTSettings,
    SettingsError,
    iot_settings,
    load_settings,
    shape_settings,
)


def test_defaults_with_an_empty_environment() -> None:
    settings = load_settings({})
    assert settings.seed is None
    assert settings.ledger_dir is None
    assert settings.shape is None
    assert dict(settings.weights) == {"Customer": 3, "KitchenStaff": 1, "IoTDevice": 2}
    assert settings.iot == IoTSettings()
    assert settings.iot.silent_share == 0.0
    assert settings.iot.silent_until_s == math.inf


def test_values_are_read_from_their_variables(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "CHAOSGATE_SEED": "42",
            "CHAOSGATE_RUN_ID": "run-7",
            "CHAOSGATE_LEDGER_DIR": str(tmp_path / "ledger"),
            "CHAOSGATE_SHAPE": "Spike",
            "CHAOSGATE_WEIGHTS": "Customer=5, IoTDevice=1",
            "CHAOSGATE_IOT_DEVICES": "9",
            "CHAOSGATE_IOT_SILENT_SHARE": "0.5",
            "CHAOSGATE_IOT_SILENT_FROM_S": "0",
            "CHAOSGATE_IOT_SILENT_UNTIL_S": "15",
        }
    )
    assert settings.seed == 42
    assert settings.run_id == "run-7"
    assert settings.ledger_dir == tmp_path / "ledger"
    assert settings.shape == "spike"
    assert dict(settings.weights) == {"Customer": 5, "KitchenStaff": 1, "IoTDevice": 1}
    assert settings.iot.devices == 9
    assert (settings.iot.silent_share, settings.iot.silent_from_s, settings.iot.silent_until_s) == (
        0.5,
        0.0,
        15.0,
    )
    assert DEFAULT_WEIGHTS["Customer"] == 3  # the defaults are never changed


def test_an_empty_variable_means_unset() -> None:
    assert load_settings({"CHAOSGATE_SHAPE": "", "CHAOSGATE_SEED": " "}).shape is None


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CHAOSGATE_SEED": "abc"}, "CHAOSGATE_SEED='abc': must be a whole number"),
        ({"CHAOSGATE_RUN_ID": "x" * 129}, "CHAOSGATE_RUN_ID='xxx"),
        ({"CHAOSGATE_SHAPE": "wave"}, "CHAOSGATE_SHAPE='wave': must be one of steady, ramp, spike"),
        ({"CHAOSGATE_WEIGHTS": "Waiter=2"}, "CHAOSGATE_WEIGHTS='Waiter=2': 'Waiter' is not a user"),
        ({"CHAOSGATE_WEIGHTS": "Customer=0"}, "the weight of Customer must be a whole number >= 1"),
        ({"CHAOSGATE_WEIGHTS": "Customer"}, "the weight of Customer must be a whole number >= 1"),
        ({"CHAOSGATE_IOT_DEVICES": "0"}, "CHAOSGATE_IOT_DEVICES='0': must be a whole number >= 1"),
        ({"CHAOSGATE_IOT_DEVICES": "ten"}, "CHAOSGATE_IOT_DEVICES='ten'"),
        ({"CHAOSGATE_IOT_INTERVAL_S": "-1"}, "CHAOSGATE_IOT_INTERVAL_S='-1': must be a number > 0"),
        ({"CHAOSGATE_IOT_SILENT_SHARE": "1.5"}, "must be a number >= 0 and <= 1"),
        ({"CHAOSGATE_IOT_SILENT_SHARE": "nan"}, "CHAOSGATE_IOT_SILENT_SHARE='nan'"),
        (
            {"CHAOSGATE_IOT_SILENT_FROM_S": "30", "CHAOSGATE_IOT_SILENT_UNTIL_S": "10"},
            "CHAOSGATE_IOT_SILENT_UNTIL_S='10': must be later than CHAOSGATE_IOT_SILENT_FROM_S",
        ),
    ],
)
def test_a_bad_value_names_the_variable_quotes_it_and_says_how_to_fix(
    env: dict[str, str], expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    message = str(caught.value)
    assert expected in message
    assert message.startswith("environment variable ")
    assert "set it to e.g." in message


def test_a_ledger_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "ledger"
    file.write_text("")
    with pytest.raises(SettingsError, match=r"CHAOSGATE_LEDGER_DIR=.*is not a directory"):
        load_settings({"CHAOSGATE_LEDGER_DIR": str(file)})


def test_shape_defaults_follow_users_and_duration() -> None:
    settings = shape_settings({"CHAOSGATE_USERS": "40", "CHAOSGATE_DURATION_S": "90"})
    assert settings.users == 40
    assert settings.duration_s == 90
    assert settings.ramp_s == 45
    assert settings.spike_users == 40
    assert settings.spike_at_s == 30
    assert settings.spike_length_s == 10
    assert settings.spike_spawn_rate == 40
    assert settings.step_users == 10


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CHAOSGATE_USERS": "-3"}, "CHAOSGATE_USERS='-3': must be a whole number >= 1"),
        ({"CHAOSGATE_SPAWN_RATE": "0"}, "CHAOSGATE_SPAWN_RATE='0': must be a number > 0"),
        ({"CHAOSGATE_DURATION_S": "1m"}, "CHAOSGATE_DURATION_S='1m': must be a number > 0"),
        ({"CHAOSGATE_STEP_S": "inf"}, "CHAOSGATE_STEP_S='inf'"),
        (
            {"CHAOSGATE_DURATION_S": "60", "CHAOSGATE_SPIKE_AT_S": "60"},
            "CHAOSGATE_SPIKE_AT_S='60': must be earlier than the end of the run",
        ),
    ],
)
def test_bad_shape_values_are_refused(env: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError, match="environment variable") as caught:
        shape_settings(env)
    assert expected in str(caught.value)


def test_iot_settings_alone() -> None:
    assert iot_settings({"CHAOSGATE_IOT_BATCH_SIZE": "3"}).batch_size == 3
