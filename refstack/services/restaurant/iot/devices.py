"""Kitchen devices in memory: last heartbeat, readings; online iff the last heartbeat is recent.

A device is online while its last heartbeat is younger than IOT_OFFLINE_AFTER_S; a device
that only ever sent telemetry is known but offline. The ``iot_devices_online`` /
``iot_devices_offline`` gauges are computed on each scrape, so a device that goes silent is
seen offline without any traffic.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from restaurant.common.logs import format_timestamp

__all__ = ["DEVICE_TYPES", "Device", "DeviceCollector", "DeviceRegistry"]

DEVICE_TYPES = ("fridge", "freezer", "oven", "sensor")


@dataclass(frozen=True)
class Device:
    id: str
    type: str | None = None
    last_heartbeat: float | None = None  # wall-clock seconds
    readings_total: int = 0
    last_reading: Mapping[str, Any] | None = field(default=None)

    def online(self, now: float, offline_after_s: float) -> bool:
        return self.last_heartbeat is not None and now - self.last_heartbeat < offline_after_s

    def as_json(self, now: float, offline_after_s: float) -> dict[str, Any]:
        beat = self.last_heartbeat
        return {
            "id": self.id,
            "type": self.type,
            "online": self.online(now, offline_after_s),
            "last_heartbeat_at": format_timestamp(beat) if beat is not None else None,
            "heartbeat_age_s": round(now - beat, 3) if beat is not None else None,
            "readings_total": self.readings_total,
            "last_reading": dict(self.last_reading) if self.last_reading is not None else None,
        }


class DeviceRegistry:
    """Thread-safe map of device id → :class:`Device`, judged against an injected clock."""

    def __init__(self, clock: Callable[[], float], offline_after_s: float) -> None:
        self.clock = clock
        self.offline_after_s = offline_after_s
        self._lock = threading.Lock()
        self._devices: dict[str, Device] = {}

    def heartbeat(self, device_id: str, device_type: str | None = None) -> Device:
        now = self.clock()
        with self._lock:
            device = self._devices.get(device_id, Device(device_id))
            device = replace(device, last_heartbeat=now, type=device_type or device.type)
            self._devices[device_id] = device
            return device

    def record(self, device_id: str, readings: Sequence[Mapping[str, Any]]) -> Device:
        """Store a batch of readings (already checked); the last one's type becomes the device's."""
        with self._lock:
            device = self._devices.get(device_id, Device(device_id))
            device = replace(
                device,
                type=str(readings[-1]["type"]),
                readings_total=device.readings_total + len(readings),
                last_reading=readings[-1],
            )
            self._devices[device_id] = device
            return device

    def remove(self, device_id: str) -> Device | None:
        """Forget a device (decommissioned): it leaves the list and the gauges. None if unknown."""
        with self._lock:
            return self._devices.pop(device_id, None)

    def devices(self) -> list[Device]:
        with self._lock:
            return sorted(self._devices.values(), key=lambda device: device.id)

    def counts(self) -> tuple[int, int]:
        """(online, offline) now."""
        now = self.clock()
        devices = self.devices()
        online = sum(device.online(now, self.offline_after_s) for device in devices)
        return online, len(devices) - online


class DeviceCollector(Collector):
    def __init__(self, service: str, registry: DeviceRegistry) -> None:
        self._service = service
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        online, offline = self._registry.counts()
        for name, documentation, value in (
            ("iot_devices_online", "Devices whose last heartbeat is recent.", online),
            ("iot_devices_offline", "Known devices with no recent heartbeat.", offline),
        ):
            family = GaugeMetricFamily(name, documentation, labels=["service"])
            family.add_metric([self._service], value)
            yield family
