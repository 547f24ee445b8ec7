"""Load shapes, chosen by ``CHAOSGATE_SHAPE`` and configured by ``CHAOSGATE_*`` variables.

- ``steady``: ``CHAOSGATE_USERS`` users (started at ``CHAOSGATE_SPAWN_RATE`` per second) for
  ``CHAOSGATE_DURATION_S`` seconds.
- ``ramp``: from 1 user up to ``CHAOSGATE_USERS`` linearly over ``CHAOSGATE_RAMP_S``, then hold.
- ``spike``: ``CHAOSGATE_USERS`` users, plus ``CHAOSGATE_SPIKE_USERS`` from
  ``CHAOSGATE_SPIKE_AT_S`` for ``CHAOSGATE_SPIKE_LENGTH_S`` seconds, started and stopped at
  ``CHAOSGATE_SPIKE_SPAWN_RATE`` per second.
- ``step``: ``CHAOSGATE_STEP_USERS`` more users every ``CHAOSGATE_STEP_S`` seconds, up to
  ``CHAOSGATE_USERS``.

Every shape stops the run after ``CHAOSGATE_DURATION_S``. Locust ignores ``-u/-r/-t`` when a
shape is in use. ``tick`` is a pure function of the run time, which comes from the clock the
shape is given (Locust's run time by default).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping

from locust import LoadTestShape

from chaosgate.vocabulary import Clock
from scenarios.settings import ShapeSettings, shape_settings

__all__ = ["SHAPES", "ChaosgateShape", "RampShape", "SpikeShape", "SteadyShape", "StepShape"]

Tick = tuple[int, float] | None


class ChaosgateShape(LoadTestShape):
    abstract = True

    def __init__(
        self,
        settings: ShapeSettings | None = None,
        clock: Clock = time.perf_counter,
    ) -> None:
        self.settings = settings if settings is not None else shape_settings(os.environ)
        self._clock = clock
        super().__init__()  # type: ignore[no-untyped-call]
        self.reset_time()

    def reset_time(self) -> None:
        self.start_time = self._clock()

    def get_run_time(self) -> float:
        return float(self._clock() - self.start_time)

    def tick(self) -> Tick:
        run_time = self.get_run_time()
        if run_time >= self.settings.duration_s:
            return None
        return self.at(run_time)

    def at(self, run_time: float) -> tuple[int, float]:
        """(users, spawn rate) at ``run_time`` seconds, within the run's duration."""
        raise NotImplementedError


class SteadyShape(ChaosgateShape):
    abstract = False

    def at(self, run_time: float) -> tuple[int, float]:
        return self.settings.users, self.settings.spawn_rate


class RampShape(ChaosgateShape):
    abstract = False

    def at(self, run_time: float) -> tuple[int, float]:
        s = self.settings
        users = min(s.users, max(1, math.ceil(s.users * run_time / s.ramp_s)))
        return users, s.spawn_rate


class SpikeShape(ChaosgateShape):
    abstract = False

    def at(self, run_time: float) -> tuple[int, float]:
        s = self.settings
        if run_time < s.spike_at_s:
            return s.users, s.spawn_rate
        if run_time < s.spike_at_s + s.spike_length_s:
            return s.users + s.spike_users, s.spike_spawn_rate
        return s.users, s.spike_spawn_rate  # drop back as sharply as it rose


class StepShape(ChaosgateShape):
    abstract = False

    def at(self, run_time: float) -> tuple[int, float]:
        s = self.settings
        steps = math.floor(run_time / s.step_s) + 1
        return min(s.users, s.step_users * steps), s.spawn_rate


SHAPES: Mapping[str, type[ChaosgateShape]] = {
    "steady": SteadyShape,
    "ramp": RampShape,
    "spike": SpikeShape,
    "step": StepShape,
}
