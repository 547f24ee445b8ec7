"""The node's kubelet API, the part ``kubectl logs`` needs: HTTPS on ``kubelet_port``, serving
``GET /containerLogs/{namespace}/{pod}/{container}`` from the container's log file.

The API server reaches a node's kubelet at the Node's ``InternalIP`` and
``daemonEndpoints.kubeletEndpoint.Port`` and proxies ``pods/log`` there with the options as a
query (:mod:`.logquery`); which run's bytes are served, and the answers when there is none,
are :mod:`.podlogs`' and :mod:`.logfiles`'. Logs go out as a chunked ``text/plain`` body, as
the kubelet sends them; with ``follow=true`` the body grows until the run has ended and its
file is drained, the client goes away, or the agent stops.

Only a client with a certificate signed by the cluster CA (``kubelet_tls.client_ca``: the
API server's kubelet client certificate) is answered: without one a request gets 401, and a
certificate from another CA fails the TLS handshake. The pods' processes share this machine's
loopback, so without that check any of them could read every pod's logs. A real kubelet also
asks the API server whether that user may read the pod (a SubjectAccessReview); here the one
client the CA signs is the API server.

Why the standard library's ``ssl`` and threading HTTP server: a thread per connection is what
a blocking, streaming ``follow`` wants, the TLS wrap is a few lines (done in the connection's
thread, so a slow handshake holds up no other client), and the node agent already serves
``/healthz`` this way (:mod:`.health`); an async framework would add a second concurrency
model to a thread-based agent for one endpoint.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from refstack.node.logfiles import RunLog, copy_run, follow_run
from refstack.node.logquery import LogError, parse_log_query

__all__ = ["KubeletApiServer", "LogFinder", "server_tls_context"]

_log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 120.0  # an idle kept-alive connection is closed after this
LogFinder = Callable[..., RunLog]  # (namespace, pod, container, *, previous) -> RunLog
_USAGE = "this node's kubelet API serves only GET /containerLogs/{namespace}/{pod}/{container}"


def server_tls_context(cert: Path, key: Path, client_ca: Path) -> ssl.SSLContext:
    """TLS for the kubelet API: ``cert``/``key`` served, client certificates checked against
    ``client_ca`` (optional in the handshake, so that a client without one gets a 401 that
    says what is missing)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    context.load_verify_locations(cafile=client_ca)
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], tls: ssl.SSLContext, find: LogFinder, poll_s: float
    ) -> None:
        super().__init__(address, _Handler)
        self.tls = tls
        self.find = find
        self.poll_s = poll_s
        self.stopping = threading.Event()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS first, in this connection's own thread."""
        request.settimeout(HANDSHAKE_TIMEOUT_S)
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            _log.info("kubelet API: TLS handshake with %s failed: %s", client_address[0], exc)
            request.close()
            return
        try:
            connection.settimeout(IDLE_TIMEOUT_S)
            _Handler(connection, client_address, self)
        finally:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()


def _peer_gone(connection: ssl.SSLSocket) -> bool:
    """Whether the client closed its end (checked while a follow has nothing to send)."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
    except (OSError, ValueError):
        return True
    if not readable:
        return False
    timeout = connection.gettimeout()
    connection.settimeout(0)
    try:
        return connection.recv(1) == b""
    except (ssl.SSLWantReadError, BlockingIOError):
        return False  # part of a TLS record: not a close
    except OSError:
        return True
    finally:
        connection.settimeout(timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        if not self.connection.getpeercert():
            self._error(
                401,
                "Unauthorized: the kubelet API needs a client certificate signed by the "
                "cluster CA (the API server's --kubelet-client-certificate)",
            )
            return
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        if not parts or parts[0] != "containerLogs":
            self._error(404, f"{url.path} not found: {_USAGE}")
            return
        if len(parts) == 3 or (len(parts) == 4 and not parts[3]):
            self._error(400, '{"message": "Missing container name."}')
            return
        if len(parts) != 4 or not all(parts):
            self._error(404, f"{url.path} not found: {_USAGE}")
            return
        _, namespace, pod, container = parts
        try:
            query = parse_log_query(url.query)
            run = self.server.find(namespace, pod, container, previous=query.previous)
        except LogError as exc:
            self._error(exc.status, exc.message)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            if query.follow:
                follow_run(
                    run,
                    self._chunk,
                    give_up=self._give_up,
                    wait=self.server.stopping.wait,
                    tail_lines=query.tail_lines,
                    limit_bytes=query.limit_bytes,
                    poll_s=self.server.poll_s,
                )
            else:
                copy_run(
                    run, self._chunk, tail_lines=query.tail_lines, limit_bytes=query.limit_bytes
                )
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:  # the client went away mid-stream
            self.close_connection = True

    def do_POST(self) -> None:
        self._error(405, f"method not allowed: {_USAGE}")

    do_PUT = do_DELETE = do_PATCH = do_POST

    def _give_up(self) -> bool:
        if self.server.stopping.is_set():
            return True
        return _peer_gone(self.connection)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _error(self, code: int, message: str) -> None:
        body = (message + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        _log.debug("kubelet API %s: %s", self.address_string(), format % args)


class KubeletApiServer:
    """The kubelet API on ``host:port`` (port 0: any free one), in threads of its own."""

    def __init__(
        self, host: str, port: int, tls: ssl.SSLContext, find: LogFinder, poll_s: float = 0.2
    ) -> None:
        self._server = _Server((host, port), tls, find, poll_s)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kubelet-api", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; every follow still streaming ends at its next poll."""
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
