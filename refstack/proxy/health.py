"""``GET /healthz`` on the node IP: 200 ``ok`` when the proxy is in sync, else 500 and why.

A few lines on the standard library's ``http.server`` in its own thread, so a busy event loop
never delays the answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["HealthServer", "start_health_server"]

HealthProbe = Callable[[], tuple[bool, str]]


class HealthServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], probe: HealthProbe) -> None:
        self.probe = probe
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: HealthServer

    def do_GET(self) -> None:
        if self.path.split("?", 1)[0] != "/healthz":
            self._answer(404, f"no such path {self.path!r}; the health check is GET /healthz")
            return
        healthy, detail = self.server.probe()
        self._answer(200 if healthy else 500, detail)

    def _answer(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Health polls are not worth a log line each."""


def start_health_server(host: str, port: int, probe: HealthProbe) -> HealthServer:
    """Serve ``/healthz`` on ``host:port`` from a daemon thread; ``shutdown()`` to stop."""
    try:
        server = HealthServer((host, port), probe)
    except OSError as exc:
        raise OSError(
            exc.errno,
            f"cannot serve /healthz on {host}:{port} ({exc.strerror}); "
            "free the port or change proxy_health_port in the node config",
        ) from None
    threading.Thread(target=server.serve_forever, name="proxy-healthz", daemon=True).start()
    return server
