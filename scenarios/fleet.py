"""The kitchen's device fleet, without any I/O: ids, temperatures, report schedule, silences.

A fleet of N devices (fridges, freezers and ovens in turn) with stable ids such as
``chaosgate-fridge-001``. Each device reports every ``interval_s`` (±10 %): a heartbeat and
its telemetry, every ``batch_every``-th time as a batch of ``batch_size`` readings. Its
temperature drifts a little from reading to reading and stays within its type's range. A
share of the devices goes silent from ``silent_from_s`` to ``silent_until_s`` of the run, so
the platform sees them offline. Every Locust process drives the whole fleet (same ids), and
the IoTDevice users of a process share its :class:`Fleet`: each takes the next device due.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from typing import Any

from scenarios.settings import IoTSettings

__all__ = [
    "DEVICE_TYPES",
    "RANGES",
    "DeviceSpec",
    "Fleet",
    "Report",
    "SilentSchedule",
    "Thermometer",
    "fleet_specs",
    "silent_indices",
]

DEVICE_TYPES = ("fridge", "freezer", "oven")
RANGES: dict[str, tuple[float, float]] = {
    "fridge": (1.0, 5.0),
    "freezer": (-22.0, -16.0),
    "oven": (150.0, 250.0),
}
_DRIFT = {"fridge": 0.15, "freezer": 0.25, "oven": 2.5}  # standard deviation of one step


@dataclass(frozen=True)
class DeviceSpec:
    index: int
    id: str
    type: str


def fleet_specs(count: int, prefix: str = "chaosgate") -> list[DeviceSpec]:
    specs = []
    for index in range(count):
        device_type = DEVICE_TYPES[index % len(DEVICE_TYPES)]
        number = index // len(DEVICE_TYPES) + 1
        specs.append(DeviceSpec(index, f"{prefix}-{device_type}-{number:03d}", device_type))
    return specs


def silent_indices(count: int, share: float) -> frozenset[int]:
    """The devices that go silent: ``ceil(share * count)`` of them, spread over the fleet."""
    if share <= 0:
        return frozenset()
    silent = min(count, math.ceil(share * count - 1e-9))
    return frozenset(math.floor(k * count / silent) for k in range(silent))


@dataclass(frozen=True)
class SilentSchedule:
    devices: frozenset[int]
    from_s: float
    until_s: float

    def silent(self, index: int, run_time_s: float) -> bool:
        return index in self.devices and self.from_s <= run_time_s < self.until_s


class Thermometer:
    """A temperature that wanders within ``RANGES[type]``, pulled gently towards the middle."""

    def __init__(self, device_type: str, rng: random.Random) -> None:
        self.low, self.high = RANGES[device_type]
        self.drift = _DRIFT[device_type]
        self.value = rng.uniform(self.low, self.high)

    def read(self, rng: random.Random) -> float:
        middle = (self.low + self.high) / 2
        self.value += rng.gauss(0.0, self.drift) + 0.05 * (middle - self.value)
        self.value = min(self.high, max(self.low, self.value))
        return round(self.value, 2)


@dataclass(frozen=True)
class Report:
    """What one device sends now: a heartbeat, then these readings (one, or a batch)."""

    device: DeviceSpec
    readings: list[dict[str, Any]]

    @property
    def telemetry_body(self) -> dict[str, Any]:
        if len(self.readings) == 1:
            return self.readings[0]
        return {"readings": self.readings}


class Fleet:
    def __init__(self, settings: IoTSettings, rng: random.Random) -> None:
        self.settings = settings
        self.devices = fleet_specs(settings.devices)
        self.schedule = SilentSchedule(
            silent_indices(settings.devices, settings.silent_share),
            settings.silent_from_s,
            settings.silent_until_s,
        )
        self._rng = rng
        self._thermometers = [Thermometer(device.type, rng) for device in self.devices]
        self._reports = [0] * len(self.devices)
        self._due: list[tuple[float, int]] = []
        self.started_at: float | None = None

    def start(self, now: float) -> None:
        """Start the run clock (the silent schedule counts from here); reports spread over
        the first interval."""
        self.started_at = now
        count = len(self.devices)
        interval = self.settings.interval_s
        self._due = [(now + interval * index / count, index) for index in range(count)]
        heapq.heapify(self._due)

    def seconds_until_due(self, now: float) -> float:
        if self.started_at is None or not self._due:
            return 0.0
        return max(0.0, self._due[0][0] - now)

    def next_report(self, now: float) -> Report | None:
        """The next device due that is not silent now, or None when none is due yet."""
        if self.started_at is None:
            self.start(now)
        assert self.started_at is not None
        while self._due and self._due[0][0] <= now:
            _, index = heapq.heappop(self._due)
            jitter = self._rng.uniform(0.9, 1.1)
            heapq.heappush(self._due, (now + self.settings.interval_s * jitter, index))
            if self.schedule.silent(index, now - self.started_at):
                continue
            return Report(self.devices[index], self._readings(index, now))
        return None

    def _readings(self, index: int, now: float) -> list[dict[str, Any]]:
        device = self.devices[index]
        self._reports[index] += 1
        batch = self._reports[index] % self.settings.batch_every == 0
        count = self.settings.batch_size if batch else 1
        step = self.settings.interval_s / count
        return [
            {
                "type": device.type,
                "temperature_c": self._thermometers[index].read(self._rng),
                "recorded_at": round(now - step * (count - 1 - k), 3),
            }
            for k in range(count)
        ]
