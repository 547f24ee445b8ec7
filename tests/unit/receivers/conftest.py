"""Real receivers on free loopback ports: the HTTP sink (werkzeug, in a thread), and what
Alertmanager 0.25 really posted to them (tests/unit/receivers/data/, labels renamed)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from chaosgate.receivers.credential import Credential, read_token_file, write_token_file
from chaosgate.receivers.http import create_sink_app
from chaosgate.receivers.store import NotificationStore

DATA = Path(__file__).parent / "data"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def recorded_body(name: str) -> dict[str, Any]:
    """``alertmanager-0.25-<name>.json``: a body Alertmanager 0.25 posted (webhook, slack)."""
    body: dict[str, Any] = json.loads((DATA / f"alertmanager-0.25-{name}.json").read_text())
    return body


@dataclass(frozen=True)
class RunningSink:
    url: str
    store: NotificationStore
    credential: Credential
    token_file: Path

    @property
    def auth(self) -> dict[str, str]:
        """The header Alertmanager sends with each delivery."""
        return {"Authorization": self.credential.bearer()}


@pytest.fixture
def credential_file(tmp_path: Path) -> Path:
    """A fresh token file, as ``stack up`` writes it."""
    return write_token_file(tmp_path / "run" / "sink-token")


@pytest.fixture
def http_sink(tmp_path: Path, credential_file: Path) -> Iterator[RunningSink]:
    store = NotificationStore(tmp_path / "notifications.jsonl")
    credential = read_token_file(credential_file)
    server = make_server("127.0.0.1", 0, create_sink_app(store, credential), threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield RunningSink(
            f"http://127.0.0.1:{server.server_port}", store, credential, credential_file
        )
    finally:
        server.shutdown()
        thread.join(timeout=5)
