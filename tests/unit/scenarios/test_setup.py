"""configure() and the locustfile, loaded the way Locust loads it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import locust
import pytest
from locust.env import Environment
from locust.util.load_locustfile import load_locustfile

import scenarios
from chaosgate.request_ledger import read_ledger
from scenarios.base import TracedUser
from scenarios.customer import Customer
from scenarios.iot import IoTDevice
from scenarios.kitchen import KitchenStaff
from scenarios.settings import SettingsError
from scenarios.setup import configure
from scenarios.shapes import SHAPES, SpikeShape
from tests.unit.scenarios.support import fire, new_events

# the locustfile `chaosgate run` starts (inside the scenarios package); the checkout's top-level
# locustfile.py only re-exports it
LOCUSTFILE = Path(scenarios.__file__).resolve().parent / "locustfile.py"
CHECKOUT_LOCUSTFILE = Path(__file__).resolve().parents[3] / "locustfile.py"


@pytest.fixture(autouse=True)
def restore_classes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """configure() sets class attributes and listeners: give each test its own."""
    for user_class in (Customer, KitchenStaff, IoTDevice):
        monkeypatch.setattr(user_class, "weight", user_class.weight)
    monkeypatch.setattr(TracedUser, "seed", TracedUser.seed)
    monkeypatch.setattr(TracedUser, "run_id", TracedUser.run_id)
    monkeypatch.setattr(IoTDevice, "fleet", IoTDevice.fleet)
    monkeypatch.setattr(locust, "events", new_events())
    for name in list(os.environ):
        if name.startswith("CHAOSGATE_"):
            monkeypatch.delenv(name)
    yield


def test_configure_applies_weights_seed_and_fleet() -> None:
    env = {
        "CHAOSGATE_WEIGHTS": "Customer=7,KitchenStaff=2,IoTDevice=4",
        "CHAOSGATE_SEED": "11",
        "CHAOSGATE_RUN_ID": "nightly-42",
        "CHAOSGATE_IOT_DEVICES": "5",
        "CHAOSGATE_IOT_SILENT_SHARE": "0.2",
    }
    assert configure(env, new_events()) is None
    assert (Customer.weight, KitchenStaff.weight, IoTDevice.weight) == (7, 2, 4)
    assert TracedUser.seed == 11
    assert TracedUser.run_id == "nightly-42"
    assert len(IoTDevice.fleet.devices) == 5
    assert IoTDevice.fleet.schedule.devices == {0}


def test_configure_installs_the_ledger_recorder(tmp_path: Path) -> None:
    events = new_events()
    configure({"CHAOSGATE_LEDGER_DIR": str(tmp_path / "ledger")}, events)
    fire(events.test_start, environment=Environment(events=events))
    fire(
        events.request,
        request_type="GET",
        name="/api/menu",
        response_time=12.0,
        response_length=0,
        response=None,
        context={"trace_id": "a" * 32, "span_id": "b" * 16, "request_id": "r-1"},
        exception=ConnectionError("refused"),
        start_time=1.8e9,
    )
    fire(events.test_stop, environment=None)
    [entry] = read_ledger(tmp_path / "ledger")
    assert (entry.route, entry.status, entry.latency_s, entry.started_at) == (
        "/api/menu",
        0,
        0.012,
        1.8e9,
    )
    assert entry.error == "ConnectionError: refused"
    fire(events.test_start, environment=Environment(events=events))  # a second test (web UI)
    assert len(list((tmp_path / "ledger").iterdir())) == 1  # appends to this process's file


def test_configure_checks_the_shape_settings_up_front() -> None:
    with pytest.raises(SettingsError, match="CHAOSGATE_USERS='many'"):
        configure({"CHAOSGATE_SHAPE": "step", "CHAOSGATE_USERS": "many"}, new_events())
    # without a shape the shape variables are not read
    assert configure({"CHAOSGATE_USERS": "many"}, new_events()) is None


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_the_locustfile_exports_the_selected_shape_only(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSGATE_SHAPE", name)
    user_classes, shapes = load_locustfile(str(LOCUSTFILE))
    assert set(user_classes) == {"Customer", "KitchenStaff", "IoTDevice"}
    assert [type(shape) for shape in shapes] == [SHAPES[name]]


def test_the_locustfile_exports_no_shape_by_default() -> None:
    user_classes, shapes = load_locustfile(str(LOCUSTFILE))
    assert set(user_classes) == {"Customer", "KitchenStaff", "IoTDevice"}
    assert shapes == []


def test_the_checkout_locustfile_gives_plain_locust_the_same_users() -> None:
    user_classes, _ = load_locustfile(str(CHECKOUT_LOCUSTFILE))
    assert user_classes == {
        "Customer": Customer,
        "KitchenStaff": KitchenStaff,
        "IoTDevice": IoTDevice,
    }


def test_a_bad_setting_stops_the_locustfile_with_one_line_and_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHAOSGATE_SHAPE", "spike")
    monkeypatch.setenv("CHAOSGATE_SPIKE_AT_S", "500")
    with pytest.raises(SystemExit) as caught:
        load_locustfile(str(LOCUSTFILE))
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("chaosgate load: error: environment variable CHAOSGATE_SPIKE_AT_S='500'")
    assert err.count("\n") == 1


def test_the_spike_shape_reads_the_environment_when_locust_creates_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAOSGATE_SHAPE", "spike")
    monkeypatch.setenv("CHAOSGATE_USERS", "4")
    monkeypatch.setenv("CHAOSGATE_SPIKE_USERS", "16")
    _, [shape] = load_locustfile(str(LOCUSTFILE))
    assert isinstance(shape, SpikeShape)
    assert (shape.settings.users, shape.settings.spike_users) == (4, 16)
