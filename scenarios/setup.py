"""Applies the ``CHAOSGATE_*`` settings to the user classes and Locust's events, once per load.

``locustfile.py`` calls :func:`configure` with the environment and ``locust.events``; it
returns the selected load shape class (or None), which the locustfile must export as the only
shape it defines.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from locust.event import Events

from scenarios.base import TracedUser
from scenarios.customer import Customer
from scenarios.fleet import Fleet
from scenarios.iot import IoTDevice
from scenarios.kitchen import KitchenStaff
from scenarios.parent_watch import watch_parent
from scenarios.recorder import LedgerRecorder, listen
from scenarios.settings import IoTSettings, LoadSettings, load_settings, shape_settings
from scenarios.shapes import SHAPES, ChaosgateShape
from scenarios.tracing import user_rng
from scenarios.worker_settings import share_settings

__all__ = ["USER_CLASSES", "apply_user_settings", "configure"]

USER_CLASSES: tuple[type[TracedUser], ...] = (Customer, KitchenStaff, IoTDevice)


def apply_user_settings(seed: int | None, run_id: str, iot: IoTSettings) -> None:
    """What the users of this process read: seed, run id, and the kitchen fleet."""
    TracedUser.seed = seed
    TracedUser.run_id = run_id
    IoTDevice.fleet = Fleet(iot, user_rng(seed, "fleet"))


def configure(env: Mapping[str, str], events: Events) -> type[ChaosgateShape] | None:
    """Read and check every setting (raises SettingsError), then apply them."""
    settings: LoadSettings = load_settings(env)
    shape = SHAPES[settings.shape] if settings.shape else None
    if shape is not None:
        shape_settings(env)  # fail here, with our message, not inside Locust's loader
    for user_class in USER_CLASSES:
        user_class.weight = settings.weights[user_class.__name__]
    apply_user_settings(settings.seed, settings.run_id, settings.iot)
    share_settings(events, apply_user_settings, env=env)  # a worker takes its master's

    def start_fleet(**_: Any) -> None:
        IoTDevice.fleet.start(time.time())  # the fleet of the settings applied last

    listen(events.test_start, start_fleet)
    # always: a worker sends its entries to its master even when it has no ledger of its own
    LedgerRecorder(settings.ledger_dir).install(events)
    if settings.run_id:  # started by `chaosgate run`: end with it
        watch_parent(events)
    return shape
