from __future__ import annotations

import itertools
import random
from dataclasses import replace
from typing import Any

from restaurant.iot.devices import DEVICE_TYPES as SERVICE_DEVICE_TYPES

from scenarios.fleet import (
    DEVICE_TYPES,
    RANGES,
    Fleet,
    SilentSchedule,
    Thermometer,
    fleet_specs,
    silent_indices,
)
from scenarios.settings import IoTSettings


def test_device_ids_are_stable_unique_and_mix_the_three_types() -> None:
    specs = fleet_specs(7)
    assert [spec.id for spec in specs] == [
        "chaosgate-fridge-001",
        "chaosgate-freezer-001",
        "chaosgate-oven-001",
        "chaosgate-fridge-002",
        "chaosgate-freezer-002",
        "chaosgate-oven-002",
        "chaosgate-fridge-003",
    ]
    assert fleet_specs(7) == specs
    assert len({spec.id for spec in fleet_specs(200)}) == 200


def test_readings_stay_within_each_type_range_and_drift_a_little() -> None:
    rng = random.Random(3)
    for device_type, (low, high) in RANGES.items():
        thermometer = Thermometer(device_type, rng)
        values = [thermometer.read(rng) for _ in range(2000)]
        assert all(low <= value <= high for value in values)
        steps = [abs(b - a) for a, b in itertools.pairwise(values)]
        assert max(steps) < (high - low) / 3  # drift, not a jump across the range
        assert max(values) - min(values) > (high - low) / 10  # but it does move


def test_every_device_type_of_the_fleet_has_a_range_and_is_one_the_iot_service_takes() -> None:
    assert set(RANGES) == set(DEVICE_TYPES)
    assert set(DEVICE_TYPES) <= set(SERVICE_DEVICE_TYPES)  # else its heartbeats are 400s
    assert all(low < high for low, high in RANGES.values())


def test_the_silent_share_is_rounded_up_and_spread_over_the_fleet() -> None:
    assert silent_indices(20, 0.0) == frozenset()
    assert silent_indices(20, 0.1) == {0, 10}
    assert silent_indices(20, 0.25) == {0, 4, 8, 12, 16}
    assert silent_indices(10, 0.05) == {0}  # a share asks for at least one device
    assert silent_indices(3, 1.0) == {0, 1, 2}


def test_the_silent_schedule_is_a_half_open_window_of_run_time() -> None:
    schedule = SilentSchedule(frozenset({1}), 20.0, 50.0)
    assert [schedule.silent(1, t) for t in (0, 19.9, 20, 35, 49.9, 50, 80)] == [
        False,
        False,
        True,
        True,
        True,
        False,
        False,
    ]
    assert not schedule.silent(0, 30)


def run_fleet(
    settings: IoTSettings, until_s: float, step_s: float = 0.1
) -> list[tuple[float, str]]:
    """Drive the fleet the way the IoTDevice users do; (run time, device id) of each report."""
    fleet = Fleet(settings, random.Random(5))
    fleet.start(0.0)
    sent = []
    t = 0.0
    while t < until_s:
        while (report := fleet.next_report(t)) is not None:
            sent.append((t, report.device.id))
        t = round(t + step_s, 6)
    return sent


def test_every_device_reports_every_interval() -> None:
    settings = IoTSettings(devices=6, interval_s=3.0)
    sent = run_fleet(settings, 30.0)
    ids = {spec.id for spec in fleet_specs(6)}
    assert {device for t, device in sent if t < 3.0} == ids  # spread over the first interval
    for device in ids:
        times = [t for t, d in sent if d == device]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert 8 <= len(times) <= 11
        assert all(2.6 <= gap <= 3.5 for gap in gaps)


def test_silent_devices_send_nothing_inside_their_window_and_come_back() -> None:
    settings = IoTSettings(
        devices=10, interval_s=2.0, silent_share=0.2, silent_from_s=10.0, silent_until_s=20.0
    )
    sent = run_fleet(settings, 30.0)
    silent = {fleet_specs(10)[i].id for i in silent_indices(10, 0.2)}
    assert len(silent) == 2
    for device in silent:
        times = [t for t, d in sent if d == device]
        assert not [t for t in times if 10.0 <= t < 20.0]
        assert [t for t in times if t < 10.0] and [t for t in times if t >= 20.0]
    loud = [d for t, d in sent if 10.0 <= t < 20.0]
    assert set(loud) == {spec.id for spec in fleet_specs(10)} - silent


def test_every_nth_telemetry_is_a_batch() -> None:
    fleet = Fleet(
        IoTSettings(devices=1, interval_s=1.0, batch_every=3, batch_size=4), random.Random(1)
    )
    fleet.start(0.0)
    bodies: list[dict[str, Any]] = []
    t = 0.0
    while len(bodies) < 6:
        report = fleet.next_report(t)
        if report is not None:
            bodies.append(report.telemetry_body)
        t += 0.05
    sizes = [len(body["readings"]) if "readings" in body else 1 for body in bodies]
    assert sizes == [1, 1, 4, 1, 1, 4]
    batch = bodies[2]["readings"]
    assert all(reading["type"] == "fridge" for reading in batch)
    assert [r["recorded_at"] for r in batch] == sorted(r["recorded_at"] for r in batch)
    assert {"type", "temperature_c"} <= set(bodies[0])


def test_a_seeded_fleet_reports_the_same_readings() -> None:
    settings = replace(IoTSettings(), devices=4)
    first, again = Fleet(settings, random.Random(9)), Fleet(settings, random.Random(9))
    first.start(0.0)
    again.start(0.0)
    assert first.next_report(1.0) == again.next_report(1.0)


def test_seconds_until_due_tells_the_users_how_long_to_wait() -> None:
    fleet = Fleet(IoTSettings(devices=2, interval_s=4.0), random.Random(1))
    assert fleet.seconds_until_due(0.0) == 0.0  # not started: report at once
    fleet.start(100.0)
    assert fleet.next_report(100.0) is not None
    assert fleet.next_report(100.0) is None
    assert fleet.seconds_until_due(100.0) == 2.0  # the second device, half an interval later
