"""chaosgate's load: restaurant customers, kitchen staff and the kitchen's IoT fleet.

The locustfile ``chaosgate run`` starts (from the installed package); the checkout's top-level
``locustfile.py`` re-exports it. Thin on purpose: everything lives in ``scenarios/`` (settings
in scenarios/README.md).

    locust -f locustfile.py --headless -H http://127.0.0.1:8080 -u 20 -r 5 -t 60s --csv out/run
    CHAOSGATE_SHAPE=spike locust -f locustfile.py --headless -H http://127.0.0.1:8080
    locust -f locustfile.py -H http://127.0.0.1:8080          # web UI on :8089
"""

from __future__ import annotations

import os
import sys

import locust

from scenarios.customer import Customer
from scenarios.iot import IoTDevice
from scenarios.kitchen import KitchenStaff
from scenarios.settings import SettingsError
from scenarios.setup import configure

try:
    # Locust takes every shape class it finds here: export the selected one only (or none)
    SelectedShape = configure(os.environ, locust.events)
except SettingsError as exc:
    sys.stderr.write(f"chaosgate load: error: {exc}\n")
    raise SystemExit(2) from None

__all__ = ["Customer", "IoTDevice", "KitchenStaff", "SelectedShape"]
