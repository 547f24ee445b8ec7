"""Kitchen devices: the IoTDevice users drive this process's :class:`~scenarios.fleet.Fleet`.

Each task sends the next due device's heartbeat and telemetry; between tasks a user waits
until the next device is due (at most a second), so the report rate follows the fleet's
schedule (``CHAOSGATE_IOT_DEVICES`` / ``CHAOSGATE_IOT_INTERVAL_S``), not the number of
IoTDevice users, which only need to be enough to keep up (one handles dozens of devices).
"""

from __future__ import annotations

import random
import time
from typing import ClassVar

from locust import task

from scenarios.base import TracedUser
from scenarios.fleet import Fleet
from scenarios.settings import IoTSettings

__all__ = ["IoTDevice"]


class IoTDevice(TracedUser):
    weight = 2
    fleet: ClassVar[Fleet] = Fleet(IoTSettings(), random.Random())  # replaced by scenarios.setup

    def wait_time(self) -> float:
        return min(1.0, max(0.05, self.fleet.seconds_until_due(time.time())))

    @task
    def report(self) -> None:
        report = self.fleet.next_report(time.time())
        if report is None:
            return
        device = report.device
        self.call(
            "POST",
            "/api/iot/devices/{id}/heartbeat",
            id=device.id,
            json={"type": device.type},
        )
        self.call(
            "POST",
            "/api/iot/devices/{id}/telemetry",
            id=device.id,
            json=report.telemetry_body,
        )
