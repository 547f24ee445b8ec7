from __future__ import annotations

from dataclasses import replace

import pytest

from scenarios.settings import ShapeSettings
from scenarios.shapes import (
    SHAPES,
    ChaosgateShape,
    RampShape,
    SpikeShape,
    SteadyShape,
    StepShape,
)
from tests.support.clocks import FakeClock


def ticks(
    shape_class: type[ChaosgateShape], settings: ShapeSettings, times: list[float]
) -> list[tuple[int, float] | None]:
    clock = FakeClock()
    shape = shape_class(settings, clock)
    out = []
    for t in times:
        clock.now = 1000.0 + t
        out.append(shape.tick())
    return out


BASE = ShapeSettings(users=10, spawn_rate=2.0, duration_s=60.0)


def test_steady_holds_its_users_then_stops() -> None:
    assert ticks(SteadyShape, BASE, [0, 1, 30, 59.9, 60, 61]) == [
        (10, 2.0),
        (10, 2.0),
        (10, 2.0),
        (10, 2.0),
        None,
        None,
    ]


def test_ramp_rises_linearly_from_one_user_then_holds() -> None:
    settings = replace(BASE, ramp_s=20.0)
    users = [
        tick[0] if tick else None
        for tick in ticks(RampShape, settings, [0, 1, 2, 10, 19, 20, 40, 60])
    ]
    assert users == [1, 1, 1, 5, 10, 10, 10, None]


def test_spike_adds_its_users_for_its_length_then_drops_back() -> None:
    settings = replace(
        BASE, spike_users=30, spike_at_s=20.0, spike_length_s=10.0, spike_spawn_rate=30.0
    )
    assert ticks(SpikeShape, settings, [0, 19.9, 20, 25, 29.9, 30, 59, 60]) == [
        (10, 2.0),
        (10, 2.0),
        (40, 30.0),
        (40, 30.0),
        (40, 30.0),
        (10, 30.0),
        (10, 30.0),
        None,
    ]


def test_step_adds_step_users_every_step_up_to_the_maximum() -> None:
    settings = replace(BASE, step_users=3, step_s=10.0)
    users = [
        tick[0] if tick else None
        for tick in ticks(StepShape, settings, [0, 9.9, 10, 20, 30, 50, 60])
    ]
    assert users == [3, 3, 6, 9, 10, 10, None]


def test_reset_time_restarts_the_run_clock() -> None:
    clock = FakeClock()
    shape = SteadyShape(BASE, clock)
    clock.now += 70
    assert shape.tick() is None
    shape.reset_time()
    assert shape.tick() == (10, 2.0)


def test_shapes_read_their_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSGATE_USERS", "7")
    monkeypatch.setenv("CHAOSGATE_DURATION_S", "30")
    shape = SteadyShape()
    assert shape.settings.users == 7
    assert shape.settings.duration_s == 30


def test_every_named_shape_is_a_concrete_locust_shape() -> None:
    assert set(SHAPES) == {"steady", "ramp", "spike", "step"}
    assert ChaosgateShape.abstract
    assert not any(shape.abstract for shape in SHAPES.values())
