"""How the chaos provider finds the running local stack: its record, supervisord and URLs.

The stack is the one ``chaosgate stack up`` started from ``CHAOSGATE_STACK_DIR`` (default
``<repo>/.stack``); its ports come from the stack record, so a stack on shifted ports is found
without passing any port. Every failure is an ``ActivityFailed`` saying how to fix it, which
Chaos Toolkit records as the activity's failure.
"""

from __future__ import annotations

import os
import xmlrpc.client
from collections.abc import Mapping
from typing import Any

from chaoslib.exceptions import ActivityFailed

from refstack.launcher.configs import SERVICES
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import part_urls
from refstack.launcher.record import StackRecord, read_record
from refstack.launcher.supervisor import SupervisorClient

__all__ = [
    "current_layout",
    "current_stack",
    "program_info",
    "service_url",
    "supervisor",
]


def current_layout(env: Mapping[str, str] | None = None) -> StackLayout:
    """The stack's paths, from ``CHAOSGATE_STACK_DIR`` (or the default ``.stack``)."""
    return StackLayout.from_env(os.environ if env is None else env)


def current_stack(env: Mapping[str, str] | None = None) -> tuple[StackLayout, StackRecord]:
    """The running stack's layout and record; ActivityFailed when none runs there."""
    layout = current_layout(env)
    record = read_record(layout)
    if record is None:
        raise ActivityFailed(
            f"no local stack is running from {layout.state_dir}; start it with "
            "`chaosgate stack up`, or set CHAOSGATE_STACK_DIR to the state dir of the "
            "stack that runs"
        )
    return layout, record


def service_url(name: str, env: Mapping[str, str] | None = None) -> str:
    """Base URL of a restaurant service (gateway, orders, users, iot) of the running stack."""
    if name not in SERVICES:
        raise ActivityFailed(f"unknown service {name!r}; use one of {', '.join(SERVICES)}")
    _layout, record = current_stack(env)
    return part_urls(record.ports)[name]


def supervisor(layout: StackLayout) -> SupervisorClient:
    return SupervisorClient(layout.supervisor_socket)


def program_info(client: SupervisorClient, layout: StackLayout, name: str) -> dict[str, Any]:
    """supervisord's info on one program; ActivityFailed naming the known programs if unknown."""
    try:
        return client.process(name)
    except xmlrpc.client.Fault as fault:
        if "BAD_NAME" in fault.faultString:
            known = ", ".join(sorted(_program_names(client)))
            raise ActivityFailed(
                f"unknown program {name!r} in the stack at {layout.state_dir}; use one of {known}"
            ) from None
        raise ActivityFailed(
            f"supervisord refused to describe {name!r}: {fault.faultString}"
        ) from None
    except OSError as exc:
        raise ActivityFailed(
            f"supervisord does not answer on {layout.supervisor_socket} ({exc}); "
            "check the stack with `chaosgate stack status`"
        ) from exc


def _program_names(client: SupervisorClient) -> list[str]:
    try:
        return list(client.processes())
    except (OSError, xmlrpc.client.Fault):
        return []
