"""A Locust worker takes the run's settings from its master, so one started elsewhere needs none.

The settings a worker's users read themselves are the seed and the run id (their choices and
request ids) and the kitchen fleet (``CHAOSGATE_IOT_*``); the weights and the shape are the
master's alone (it tells each worker how many users of which class to run). At its
``test_start``, before it sends any worker its users, the master sends its values of
:data:`SHARED` (message :data:`MESSAGE`); a worker applies them as
:func:`scenarios.setup.configure` would have from its own environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from locust.env import Environment
from locust.event import Events
from locust.rpc import Message
from locust.runners import MasterRunner, WorkerRunner

from scenarios.settings import load_settings

__all__ = ["MESSAGE", "SHARED", "share_settings", "shared_settings"]

MESSAGE = "chaosgate_settings"
SHARED = ("CHAOSGATE_SEED", "CHAOSGATE_RUN_ID", "CHAOSGATE_IOT_")  # names, or name prefixes

Apply = Callable[[int | None, str, Any], None]
"""Sets the users' seed, run id and fleet settings (:class:`~scenarios.settings.IoTSettings`)."""


def shared_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``env`` a master shares with its workers."""
    return {name: value for name, value in env.items() if name.startswith(SHARED)}


def share_settings(events: Events, apply: Apply, *, env: Mapping[str, str] = os.environ) -> None:
    """Install the sharing: a master sends ``env``'s shared settings, a worker applies the
    ones it receives with ``apply``."""

    def on_init(environment: Environment, **_: Any) -> None:
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            settings = shared_settings(env)

            def send(**_: Any) -> None:
                runner.send_message(MESSAGE, settings)  # to every worker connected

            events.test_start.add_listener(send)  # type: ignore[no-untyped-call]
        elif isinstance(runner, WorkerRunner):

            def receive(environment: Environment, msg: Message, **_: Any) -> None:
                received: dict[str, str] = dict(msg.data)
                settings = load_settings(received)
                apply(settings.seed, settings.run_id, settings.iot)

            runner.register_message(MESSAGE, receive)

    events.init.add_listener(on_init)  # type: ignore[no-untyped-call]
