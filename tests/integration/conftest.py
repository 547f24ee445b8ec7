"""The real local stack, started once per test session (and stopped again if we started it).

Set CHAOSGATE_KEEP_STACK=1 to leave a stack this session started running afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from chaosgate.stack.launcher import read_record, stack_down, stack_up
from chaosgate.stack.layout import StackLayout
from chaosgate.stack.parts import part_urls
from chaosgate.stack.ports import resolve_ports


@dataclass(frozen=True)
class LocalStack:
    layout: StackLayout
    ports: dict[str, int]
    urls: dict[str, str]


def _say(message: str) -> None:
    print(f"[local stack] {message}", flush=True)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    layout = StackLayout.from_env(os.environ)
    record = read_record(layout)
    if record is not None and record.k8s:
        # the Kubernetes tests (tests/integration/k8s, collected first) left theirs running
        _say("a stack with Kubernetes is running; stopping it (this one runs the services itself)")
        stack_down(layout, report=_say)
        record = None
    ports = dict(record.ports) if record else resolve_ports(os.environ)
    with httpx.Client(timeout=3.0) as http:
        stack_up(layout, ports, http, report=_say, timeout_s=900)
    yield LocalStack(layout=layout, ports=ports, urls=part_urls(ports))
    if record is None and os.environ.get("CHAOSGATE_KEEP_STACK") != "1":
        stack_down(layout, report=_say)


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client
