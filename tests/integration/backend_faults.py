"""A switchable reverse proxy in front of one backend, for the backend-failure runs
(:mod:`tests.integration.test_backend_failures`).

A :class:`FaultProxy` listens on a free loopback port and, in each :class:`Mode`, forwards
every request to the real backend and its answer back, answers a 5xx, answers a 200 with
garbage (an HTML page, JSON of the wrong shape for that backend's API, JSON cut short), never
answers (the connection is accepted and the request read, then nothing, as a SIGSTOPped
process does), or stops listening (connections refused, as a stopped process's port). The
target file of a test run points chaosgate at the proxies, so the test decides, at the moment
it chooses, what each backend does for chaosgate while the real stack goes on serving the
rest of the platform. The stopped and hanging modes go with the real thing: the test stops the
backend's program through supervisord, or sends it SIGSTOP, as well.

Why it is hand-written. The failures needed are HTTP-level: 5xx and, above all, a 200 whose
body is not what the API returns, per backend. Toxiproxy (the usual fault proxy, Go) works on
TCP only: latency, bandwidth, a connection that stops passing data or is reset, data cut after
N bytes; it has no notion of an HTTP status or a body, so it cannot answer 503 or a JSON of the
wrong shape (it is also not among the Go modules this machine lists, and toxiproxy-python is
only a client of its server). mitmproxy can rewrite answers from an addon, but its current
releases need Python 3.12 (the project runs 3.11) and it pins a large tree of dependencies of
its own for what is here a few dozen lines. So the proxy is werkzeug's threaded WSGI server
(maintained, already installed with Flask) with one small WSGI application, forwarding with
httpx; every answer carries ``Connection: close``, so that no kept-alive connection outlives a
switch to the refusing mode.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import httpx
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

__all__ = ["GARBAGE", "FaultProxy", "Garbage", "Mode", "fault_proxies"]

HOST = "127.0.0.1"
HANG_LIMIT_S = 900.0  # a hanging answer is released by a mode change, or at the latest then
_POLL_INTERVAL_S = 0.05  # how soon a switch to REFUSE closes the port (the server's shutdown)
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
        "accept-encoding",
    }
)
_ERRORS = ((503, "Service Unavailable"), (500, "Internal Server Error"),
           (502, "Bad Gateway"), (504, "Gateway Timeout"))  # fmt: skip
_HTML = b"<html><head><title>Sign in</title></head><body><h1>Session expired</h1></body></html>"


class _QuietHandler(WSGIRequestHandler):
    """No access log line per request (a run makes thousands; pytest would keep them all)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class Mode(StrEnum):
    FORWARD = "forward"  # every request to the real backend, its answer back
    REFUSE = "refuse"  # not listening: connections refused (the backend is stopped)
    ERROR = "5xx"  # 503, 500, 502, 504 in turn
    GARBAGE = "garbage"  # 200 with an HTML page, JSON of the wrong shape, cut JSON in turn
    HANG = "hang"  # the request is read and never answered (until the mode changes)


@dataclass(frozen=True)
class Garbage:
    """What a backend's API never answers, though it is JSON: of the wrong shape, and cut."""

    wrong_shape: bytes
    truncated: bytes


# per part of the local stack; each wrong shape is one a proxy, another service or another
# version could send (Jaeger's data as an object, OpenSearch without aggregations or fields,
# Prometheus' result as an object, Alertmanager's v1 shape on v2, the sink's by receiver)
GARBAGE: Mapping[str, Garbage] = {
    "jaeger": Garbage(
        b'{"data": {"traceID": "4bf92f3577b34da6a3ce929d0e0e4736"}, "errors": null}',
        b'{"data": [{"traceID": "4bf92f3577b34da6a3ce929d0e0e4736", "spans": [{"spanID": "00f0',
    ),
    "opensearch": Garbage(
        b'{"took": 2, "timed_out": false, "hits": {"total": {"value": 0}, "hits": []}}',
        b'{"took": 2, "timed_out": false, "_shards": {"total": 1, "successful": 1',
    ),
    "prometheus": Garbage(
        b'{"status": "success", "data": {"resultType": "vector", "result": {"metric": {}}}}',
        b'{"status": "success", "data": {"resultType": "vector", "result": [{"metric": {"__na',
    ),
    "alertmanager": Garbage(
        b'{"status": "success", "data": []}',
        b'[{"annotations": {}, "endsAt": "2026-01-01T00:00:00.000Z", "fingerprint": "5e3',
    ),
    "sink": Garbage(
        b'{"notifications": {"webhook": [], "slack": [], "email": []}}',
        b'{"notifications": [{"received_at_unix": 1767225600.1, "payload": {"status": "fir',
    ),
}


class FaultProxy:
    """A reverse proxy for ``upstream`` (a base URL) on a free loopback port."""

    def __init__(self, name: str, upstream: str, garbage: Garbage) -> None:
        self.name = name
        self.upstream = upstream.rstrip("/")
        self._garbage = garbage
        self._lock = threading.Lock()
        self._mode = Mode.FORWARD
        self._released = threading.Event()
        self._turn = itertools.count()
        self._port = 0
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=httpx.Timeout(60.0, connect=5.0), trust_env=False)
        self.answered: Counter[str] = Counter()  # requests seen per mode

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self._port}"

    @property
    def mode(self) -> Mode:
        return self._mode

    def start(self) -> FaultProxy:
        self._listen()
        return self

    def set_mode(self, mode: Mode) -> None:
        with self._lock:
            previous, self._mode = self._mode, mode
            if previous is Mode.HANG and mode is not Mode.HANG:
                self._released.set()  # the hung requests end (their clients gave up long ago)
                self._released = threading.Event()
        if mode is Mode.REFUSE and self._server is not None:
            self._stop_listening()
        elif mode is not Mode.REFUSE and self._server is None:
            self._listen()

    def close(self) -> None:
        self.set_mode(Mode.REFUSE)
        self._released.set()
        self._http.close()

    def _listen(self) -> None:
        # the same port again after a refusing spell: the target file names it
        server = make_server(
            HOST,
            self._port,
            Request.application(self._handle),
            threaded=True,
            request_handler=_QuietHandler,
        )
        self._port = server.port
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"proxy-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def _stop_listening(self) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._server = self._thread = None

    def _handle(self, request: Request) -> Response:
        with self._lock:
            mode, released = self._mode, self._released
            self.answered[mode.value] += 1
            turn = next(self._turn)
        if mode is Mode.HANG:
            released.wait(HANG_LIMIT_S)
            return self._closing(Response(b"released", status=504))
        if mode is Mode.ERROR:
            status, text = _ERRORS[turn % len(_ERRORS)]
            body = f"<html><body><h1>{status} {text}</h1></body></html>"
            return self._closing(Response(body, status=status, content_type="text/html"))
        if mode is Mode.GARBAGE:
            return self._closing(self._garbage_answer(turn))
        return self._closing(self._forward(request))  # FORWARD (REFUSE never gets here)

    def _garbage_answer(self, turn: int) -> Response:
        kind = turn % 3
        if kind == 0:
            return Response(_HTML, status=200, content_type="text/html")
        body = self._garbage.wrong_shape if kind == 1 else self._garbage.truncated
        return Response(body, status=200, content_type="application/json")

    def _forward(self, request: Request) -> Response:
        query = request.query_string.decode("latin-1")
        url = f"{self.upstream}{request.path}" + (f"?{query}" if query else "")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            answer = self._http.request(
                request.method, url, content=request.get_data(), headers=headers
            )
        except httpx.HTTPError as exc:  # the real backend failed: what a reverse proxy says
            return Response(f"proxy: {type(exc).__name__}: {exc}", status=502)
        kept = [(k, v) for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP]
        return Response(answer.content, status=answer.status_code, headers=kept)

    @staticmethod
    def _closing(response: Response) -> Response:
        response.headers["Connection"] = "close"
        return response


@contextmanager
def fault_proxies(upstreams: Mapping[str, str]) -> Iterator[dict[str, FaultProxy]]:
    """One forwarding proxy per part named in ``upstreams`` (part -> base URL), closed after."""
    proxies = {
        name: FaultProxy(name, url, GARBAGE[name]).start() for name, url in upstreams.items()
    }
    try:
        yield proxies
    finally:
        for proxy in proxies.values():
            proxy.close()
