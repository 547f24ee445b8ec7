"""Dropping a request's TCP connection without an answer (the ``drop_connection_ratio`` fault).

Under gunicorn the client socket is ``environ["gunicorn.socket"]``; shutting it down in both
directions sends the peer a FIN (or a reset when unread bytes remain), so the caller's HTTP
client fails in transport, as it would when a network path or a proxy drops the connection.
The response the app still returns cannot be written: gunicorn's worker gets EPIPE on the
shut socket, which it logs at debug level and survives (the connection is closed, the worker
and its other connections go on).

The service never answered such a request, so it has no status: :func:`connection_dropped`
tells the access hook (no access line, not counted in ``http_requests_total``) and the orders
service's outcome counters to leave it out.
"""

from __future__ import annotations

import contextlib
import socket

from flask import g, request

__all__ = ["SOCKET_KEY", "connection_dropped", "drop_connection"]

SOCKET_KEY = "gunicorn.socket"
_DROPPED_KEY = "restaurant_connection_dropped"


def drop_connection() -> bool:
    """Shut the current request's connection down; False when the server exposes no socket."""
    sock = request.environ.get(SOCKET_KEY)
    if not isinstance(sock, socket.socket):
        return False
    with contextlib.suppress(OSError):  # the peer is already gone: dropped either way
        sock.shutdown(socket.SHUT_RDWR)
    setattr(g, _DROPPED_KEY, True)
    return True


def connection_dropped() -> bool:
    """True when this request's connection was dropped by :func:`drop_connection`."""
    return bool(g.get(_DROPPED_KEY, False))
