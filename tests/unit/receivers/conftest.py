"""Real receivers on free loopback ports: the HTTP sink (werkzeug, in a thread)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from chaosgate.receivers.http import create_sink_app
from chaosgate.receivers.store import NotificationStore


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass(frozen=True)
class RunningSink:
    url: str
    store: NotificationStore


@pytest.fixture
def http_sink(tmp_path: Path) -> Iterator[RunningSink]:
    store = NotificationStore(tmp_path / "notifications.jsonl")
    server = make_server("127.0.0.1", 0, create_sink_app(store), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield RunningSink(f"http://127.0.0.1:{server.server_port}", store)
    finally:
        server.shutdown()
        thread.join(timeout=5)
