"""``GET /healthz`` of the node agent: 200 once the node is registered and its last
heartbeat went through, else 500 with the reason. The standard library's threading HTTP
server is enough for one tiny endpoint polled by the stack's health checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["HealthServer"]

HealthCheck = Callable[[], tuple[bool, str]]


def _handler(check: HealthCheck) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/healthz":
                self._answer(404, "not found; try /healthz\n")
                return
            ok, detail = check()
            self._answer(200 if ok else 500, ("ok" if ok else detail) + "\n")

        def _answer(self, code: int, text: str) -> None:
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # polled every few seconds: not worth a log line

    return Handler


class HealthServer:
    def __init__(self, host: str, port: int, check: HealthCheck) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(check))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="healthz", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
