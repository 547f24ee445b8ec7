"""chaosgate's load for plain Locust: restaurant customers, kitchen staff and IoT devices.

The locustfile itself is ``scenarios/locustfile.py`` (so an installed chaosgate carries it);
this file lets the checkout run Locust on its own (settings in scenarios/README.md):

    locust -f locustfile.py --headless -H http://127.0.0.1:8080 -u 20 -r 5 -t 60s --csv out/run
    CHAOSGATE_SHAPE=spike locust -f locustfile.py --headless -H http://127.0.0.1:8080
    locust -f locustfile.py -H http://127.0.0.1:8080          # web UI on :8089
"""

from __future__ import annotations

from scenarios.locustfile import Customer, IoTDevice, KitchenStaff, SelectedShape

__all__ = ["Customer", "IoTDevice", "KitchenStaff", "SelectedShape"]
