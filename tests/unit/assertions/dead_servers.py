"""Servers that fail below HTTP, on loopback: a port nothing listens on, and one that accepts
connections (the kernel completes the handshake) but never answers, as a SIGSTOPped process
does. Used with pytest-httpserver's ``httpserver`` for the failures above HTTP."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import closing, contextmanager

__all__ = ["closed_port_url", "hanging_server_url"]


def closed_port_url() -> str:
    """A loopback URL whose port was free a moment ago and is closed now: connection refused."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@contextmanager
def hanging_server_url() -> Iterator[str]:
    """A loopback URL that accepts connections and never reads or answers them."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)  # handshakes complete in the kernel's backlog; nothing calls accept()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
