"""The tests' servers that pytest-httpserver cannot stand in for, in one place.

For an HTTP peer the tests use pytest-httpserver: its ``httpserver`` fixture, or, for a server on
an address of the test's choosing, :class:`QuickStopHTTPServer` (its ``HTTPServer`` whose
serving loop looks for ``stop()`` every 50 ms instead of every 500 ms, so a test that starts
its own servers does not wait half a second for each). What is here it cannot do:

- a port nothing listens on (connection refused);
- a listener that completes handshakes in the kernel's backlog but never reads or answers,
  as a SIGSTOPped process does (a client's read timeout, a TCP probe that connects);
- a listener whose accept queue is full, so that further SYNs are dropped and ``connect()``
  itself hangs (a connect timeout);
- an asyncio TCP server with a handler of the test's own (echo, reset, half-close, flood),
  for the service proxy's byte forwarding, which knows nothing of HTTP;
- an HTTP/1.1 server that keeps connections open: werkzeug's server, under pytest-httpserver,
  answers every request with ``Connection: close``, so a test that an open keep-alive
  connection is cut (a pod turning unready) needs one of its own.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from pytest_httpserver import HTTPServer

__all__ = [
    "KeepAliveServer",
    "QuickStopHTTPServer",
    "StreamHandler",
    "closed_port",
    "closed_port_url",
    "full_backlog_listener",
    "hanging_server_url",
    "silent_listener",
    "tcp_server",
]

HOST = "127.0.0.1"

StreamHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
STOP_POLL_S = 0.05


class QuickStopHTTPServer(HTTPServer):
    """pytest-httpserver's server, stopped within ``STOP_POLL_S`` (its thread target is the
    documented place to change how it serves)."""

    def thread_target(self) -> None:
        assert self.server is not None
        self.server.serve_forever(poll_interval=STOP_POLL_S)


def closed_port(host: str = HOST) -> int:
    """A port on ``host`` that was free a moment ago and is closed now: connection refused."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def closed_port_url() -> str:
    """A loopback URL whose port is closed (see :func:`closed_port`)."""
    return f"http://{HOST}:{closed_port()}"


@contextmanager
def silent_listener(host: str = HOST) -> Iterator[int]:
    """A port on ``host`` that accepts connections and never reads or answers them."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind((host, 0))
        sock.listen(64)  # handshakes complete in the kernel's backlog; nothing calls accept()
        yield int(sock.getsockname()[1])


@contextmanager
def hanging_server_url() -> Iterator[str]:
    """A loopback URL that accepts connections and never answers (see :func:`silent_listener`)."""
    with silent_listener() as port:
        yield f"http://{HOST}:{port}"


@contextmanager
def full_backlog_listener() -> Iterator[tuple[str, int]]:
    """A loopback address where ``connect()`` hangs: the listener's accept queue is full (a
    backlog of 0, filled by connections of our own), so the kernel drops further SYNs."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as hold:
        hold.bind((HOST, 0))
        hold.listen(0)
        address = hold.getsockname()[:2]
        fillers = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(3)]
        try:
            for filler in fillers:
                filler.setblocking(False)
                filler.connect_ex(address)
            time.sleep(0.1)  # the fillers' handshakes fill the queue
            yield str(address[0]), int(address[1])
        finally:
            for filler in fillers:
                filler.close()


async def tcp_server(
    handler: StreamHandler, host: str = HOST
) -> tuple[asyncio.Server, tuple[str, int]]:
    """An asyncio TCP server on a free port of ``host`` calling ``handler`` per connection,
    and its address; the caller closes it."""
    server = await asyncio.start_server(handler, host, 0)
    address = server.sockets[0].getsockname()
    return server, (str(address[0]), int(address[1]))


class _FixedAnswer(BaseHTTPRequestHandler):
    server: _FixedAnswerHTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says close
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK stall

    def do_GET(self) -> None:
        body = self.server.body
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _FixedAnswerHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, body: bytes) -> None:
        self.body = body
        super().__init__((host, 0), _FixedAnswer)


class KeepAliveServer:
    """An HTTP/1.1 server on a free port of ``host``, in a thread, answering every GET with
    ``body`` and keeping each connection open for the client's next request."""

    def __init__(self, host: str, body: bytes) -> None:
        self._server = _FixedAnswerHTTPServer(host, body)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
