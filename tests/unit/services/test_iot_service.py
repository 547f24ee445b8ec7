from __future__ import annotations

from typing import Any

import pytest
from restaurant.common.runtime import Runtime

from tests.support.clocks import FakeClock
from tests.unit.services.support import Services, ServiceUnderTest, metric_value


def _devices(iot: ServiceUnderTest) -> dict[str, dict[str, Any]]:
    response = iot.client().get("/api/iot/devices")
    assert response.status_code == 200
    assert response.json is not None
    return {device["id"]: device for device in response.json["devices"]}


def _gauges(iot: ServiceUnderTest) -> tuple[float | None, float | None]:
    text = iot.metrics()
    return (
        metric_value(text, "iot_devices_online", service="iot"),
        metric_value(text, "iot_devices_offline", service="iot"),
    )


def test_device_goes_offline_when_heartbeats_stop_and_back_online(services: Services) -> None:
    clock = FakeClock(1_750_000_000.0)
    iot = services.iot(Runtime(clock=clock), iot_offline_after_s=10.0)
    client = iot.client()
    assert (
        client.post("/api/iot/devices/fridge-1/heartbeat", json={"type": "fridge"}).status_code
        == 200
    )
    assert client.post("/api/iot/devices/oven-1/heartbeat").status_code == 200
    assert _devices(iot)["fridge-1"]["online"] is True
    assert _gauges(iot) == (2.0, 0.0)

    clock.advance(6)
    client.post("/api/iot/devices/oven-1/heartbeat")
    clock.advance(4)  # fridge-1 silent for exactly 10 s: offline; oven-1 for 4 s
    devices = _devices(iot)
    assert (devices["fridge-1"]["online"], devices["oven-1"]["online"]) == (False, True)
    assert devices["fridge-1"]["type"] == "fridge"
    assert devices["fridge-1"]["heartbeat_age_s"] == 10.0
    assert _gauges(iot) == (1.0, 1.0)

    clock.advance(60)  # no traffic at all: the scrape alone sees both offline
    assert _gauges(iot) == (0.0, 2.0)

    client.post("/api/iot/devices/fridge-1/heartbeat")
    assert _devices(iot)["fridge-1"]["online"] is True
    assert _gauges(iot) == (1.0, 1.0)


def test_single_and_batched_telemetry_are_counted_by_device_type(services: Services) -> None:
    iot = services.iot(Runtime(clock=FakeClock(1_750_000_000.0)))
    client = iot.client()
    single = client.post(
        "/api/iot/devices/fridge-1/telemetry",
        json={"type": "fridge", "temperature_c": 3.5, "door_open": False},
    )
    assert single.status_code == 202
    assert single.json == {"device_id": "fridge-1", "accepted": 1}
    batch = client.post(
        "/api/iot/devices/probe-9/telemetry",
        json={
            "readings": [
                {"type": "sensor", "temperature_c": 21},
                {"type": "sensor", "temperature_c": 22.5},
                {"type": "oven", "temperature_c": 180},
            ]
        },
    )
    assert batch.status_code == 202
    assert batch.json is not None and batch.json["accepted"] == 3
    text = iot.metrics()
    for device_type, count in (("fridge", 1.0), ("sensor", 2.0), ("oven", 1.0), ("freezer", 0.0)):
        assert (
            metric_value(
                text, "iot_telemetry_readings_total", service="iot", device_type=device_type
            )
            == count
        )
    devices = _devices(iot)
    assert devices["fridge-1"]["last_reading"] == {
        "type": "fridge",
        "temperature_c": 3.5,
        "door_open": False,
    }
    assert devices["probe-9"]["readings_total"] == 3
    assert devices["fridge-1"]["online"] is False  # telemetry is not a heartbeat
    assert _gauges(iot) == (0.0, 2.0)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "toaster", "temperature_c": 1},
        {"type": "fridge"},
        {"type": "fridge", "temperature_c": "cold"},
        {"type": "fridge", "temperature_c": True},
        {"readings": []},
        {"readings": [{"type": "fridge", "temperature_c": 1}, {"type": "fridge"}]},
        {"readings": "many"},
    ],
)
def test_bad_telemetry_is_400_and_records_nothing(services: Services, body: object) -> None:
    iot = services.iot()
    response = iot.client().post("/api/iot/devices/d1/telemetry", json=body)
    assert response.status_code == 400
    assert response.json is not None and response.json["error"]
    assert _devices(iot) == {}


def test_bad_device_id_and_type_in_heartbeat_are_400(services: Services) -> None:
    client = services.iot().client()
    assert client.post("/api/iot/devices/bad%20id/heartbeat").status_code == 400
    assert client.post("/api/iot/devices/d1/heartbeat", json={"type": "toaster"}).status_code == 400


def test_a_decommissioned_device_leaves_the_list_and_the_gauges(services: Services) -> None:
    clock = FakeClock(1_750_000_000.0)
    iot = services.iot(Runtime(clock=clock), iot_offline_after_s=10.0)
    client = iot.client()
    for device in ("silent-1", "silent-2", "fridge-1"):
        assert client.post(f"/api/iot/devices/{device}/heartbeat").status_code == 200
    clock.advance(11)
    client.post("/api/iot/devices/fridge-1/heartbeat")
    assert _gauges(iot) == (1.0, 2.0)

    gone = client.delete("/api/iot/devices/silent-1")
    assert gone.status_code == 200
    assert gone.json is not None
    assert (gone.json["id"], gone.json["online"], gone.json["decommissioned"]) == (
        "silent-1",
        False,
        True,
    )
    assert sorted(_devices(iot)) == ["fridge-1", "silent-2"]
    assert _gauges(iot) == (1.0, 1.0)
    assert client.delete("/api/iot/devices/silent-2").status_code == 200
    assert _gauges(iot) == (1.0, 0.0)

    unknown = client.delete("/api/iot/devices/silent-1")
    assert unknown.status_code == 404
    assert unknown.json is not None and "no device 'silent-1'" in unknown.json["error"]
    assert client.delete("/api/iot/devices/bad id!").status_code == 400
