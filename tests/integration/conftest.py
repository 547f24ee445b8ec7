"""The real local stack, started once per test session (and stopped again if we started it).

Set CHAOSGATE_KEEP_STACK=1 to leave a stack this session started running afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from refstack.launcher.launcher import stack_down, stack_up
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import part_urls
from refstack.launcher.ports import resolve_ports
from refstack.launcher.record import read_record
from refstack.launcher.stores import LogStore, store_named
from tests.integration.wheel import REPO_ROOT, InstalledWheel, installed_wheel


@dataclass(frozen=True)
class LocalStack:
    layout: StackLayout
    ports: dict[str, int]
    urls: dict[str, str]
    store: LogStore  # which store keeps the logs and spans (pytest --store)


def _say(message: str) -> None:
    print(f"[local stack] {message}", flush=True)


@pytest.fixture(scope="session")
def local_stack(pytestconfig: pytest.Config) -> Iterator[LocalStack]:
    layout = StackLayout.from_env(os.environ)
    store = store_named(pytestconfig.getoption("store"))
    record = read_record(layout)
    if record is not None and record.k8s:
        # the Kubernetes tests (tests/integration/k8s, collected first) left theirs running
        _say("a stack with Kubernetes is running; stopping it (this one runs the services itself)")
        stack_down(layout, report=_say)
        record = None
    if record is not None and record.store != store.name:
        _say(f"a stack with {record.store} is running; stopping it (this one runs {store.name})")
        stack_down(layout, report=_say)
        record = None
    ports = dict(record.ports) if record else resolve_ports(os.environ)
    with httpx.Client(timeout=3.0) as http:
        stack_up(layout, ports, http, report=_say, timeout_s=900, store=store)
    urls = part_urls(ports)
    urls[store.name] = urls["store"]  # by part name too: the store's part is named after it
    yield LocalStack(layout=layout, ports=ports, urls=urls, store=store)
    if record is None and os.environ.get("CHAOSGATE_KEEP_STACK") != "1":
        stack_down(layout, report=_say)


@pytest.fixture()
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture(scope="session")
def wheel_chaosgate(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """This checkout's wheel in a virtualenv of its own (tests/integration/wheel.py)."""
    layout = StackLayout.from_env(os.environ)
    layout.cache_dir.mkdir(parents=True, exist_ok=True)
    return installed_wheel(layout.cache_dir, tmp_path_factory.mktemp("wheel"))


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A working directory that is not the checkout (nothing of it on the path)."""
    work = tmp_path / "elsewhere"
    work.mkdir()
    assert not work.resolve().is_relative_to(REPO_ROOT)
    return work


def write_target_file(path: Path, env: Mapping[str, str]) -> Path:
    """The local stack as a target file, as a team would write one: what the checkout's
    ``chaosgate target show`` resolves for the built-in ``local`` target with ``env``'s ports."""
    shown = subprocess.run(
        [sys.executable, "-m", "chaosgate", "target", "show"],
        env=dict(env), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    target = json.loads(shown.stdout)
    target["name"] = "staging-like"
    path.write_text(json.dumps(target, indent=2) + "\n")
    return path


@pytest.fixture()
def target_file(tmp_path: Path) -> Path:
    """The local stack at its default ports (or this environment's) as a target file."""
    return write_target_file(tmp_path / "target.json", os.environ)
