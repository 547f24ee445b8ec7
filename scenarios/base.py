"""The base of every simulated user: one request helper that traces, names and judges requests.

:meth:`TracedUser.call` is the only way the users send requests. It gives each request fresh
ids and their headers (:mod:`scenarios.tracing`), names it by its route template in Locust's
stats (``name=``), puts the ids in the request's Locust context (which
:class:`scenarios.recorder.LedgerRecorder` writes to the ledger) and marks any status outside
2xx as a failure.

The users are Locust's :class:`~locust.contrib.fasthttp.FastHttpUser` (geventhttpclient): about
half the CPU per request of the requests-based ``HttpUser``. A request that got no response
(refused, reset, timed out, its body broken off) is reported with no response and the
transport's error as its exception: status 0 in the ledger, with that error, as with
``HttpUser``.
"""

from __future__ import annotations

import itertools
import json as json_codec
import re
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from locust.contrib.fasthttp import FAILURE_EXCEPTIONS, FastHttpUser
from locust.env import Environment
from locust.exception import CatchResponseError

from scenarios.tracing import BAGGAGE, new_request_ids, user_rng

__all__ = ["Reply", "TracedUser"]

_DIGITS = re.compile(r"\d+")


class Reply:
    """A request's outcome: its status (0 when no response arrived) and, for a 2xx answer,
    its body's JSON, decoded the first time :attr:`body` is read (most calls only ask
    :attr:`ok`, and decoding is a large share of a request's CPU)."""

    __slots__ = ("_body", "_content", "status")
    _UNREAD: ClassVar[object] = object()

    def __init__(self, status: int, content: bytes | None = None) -> None:
        self.status = status
        self._content = content if 200 <= status < 300 else None
        self._body: Any = self._UNREAD

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def body(self) -> Any:
        """The decoded JSON of a 2xx answer, else None."""
        if self._body is self._UNREAD:
            self._body = _json_body(self._content)
            self._content = None
        return self._body

    def __repr__(self) -> str:
        return f"Reply(status={self.status})"


def _failure_text(status: int, body: Any) -> str:
    """Short and id-free, so Locust groups failures of one kind into one row."""
    detail = body.get("error") if isinstance(body, dict) else None
    text = f"HTTP {status}"
    if isinstance(detail, str):
        text += ": " + _DIGITS.sub("N", detail)[:120]
    return text


def _json_body(content: bytes | None) -> Any:
    """The decoded JSON of a response body, None when it is empty or not JSON. From the bytes:
    FastResponse.json() decodes the text first, guessing the charset when the headers name
    none (JSON is UTF-8, RFC 8259, and :func:`json.loads` takes bytes)."""
    if not content:
        return None
    try:
        return json_codec.loads(content)
    except ValueError:
        return None


class TracedUser(FastHttpUser):
    """A FastHttpUser whose requests all go through :meth:`call`."""

    abstract = True
    insecure = False  # verify TLS certificates, as HttpUser (requests) did; FastHttpUser does not
    seed: ClassVar[int | None] = None  # set from CHAOSGATE_SEED by scenarios.setup
    run_id: ClassVar[str] = ""  # set from CHAOSGATE_RUN_ID by scenarios.setup
    _numbers: ClassVar[dict[str, Iterator[int]]] = {}  # users created so far, per class
    # requests this process has begun to send (a worker reports it to its master, so the
    # requests of a worker lost mid-request are counted as missing entries, not unknown)
    requests_started: ClassVar[int] = 0

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        runner = environment.runner
        worker = getattr(runner, "worker_index", 0) if runner is not None else 0
        scenario = type(self).__name__
        number = next(self._numbers.setdefault(scenario, itertools.count()))
        self.user_key = f"{scenario}/{worker}/{number}"  # the ledger's ``user``
        self.rng = user_rng(self.seed, worker, scenario, number)  # the user's choices
        # the request ids: reproducible with the seed; the run id (if any) keeps two runs with
        # the same seed from sending the same trace ids, which Jaeger would merge
        self.ids_rng = user_rng(self.seed, "ids", self.run_id, worker, scenario, number)
        self._context = {"scenario": scenario, "user": self.user_key}

    def pause(self) -> None:
        """Wait as long as ``wait_time`` says, between the steps of one task."""
        self.wait()  # type: ignore[no-untyped-call]

    def context(self) -> dict[str, Any]:
        """What every request's Locust context carries besides its ids."""
        return self._context

    def call(self, method: str, route: str, *, json: Any = None, **path: object) -> Reply:
        """Send ``method`` to ``route`` (a template such as ``/api/orders/{id}``, filled from
        ``path``) with ``json`` as the body.

        Sent with the FastHttpUser's own client (geventhttpclient's ``urlopen``: its
        connection pool, cookies and redirects) and reported with Locust's ``request`` event,
        as Locust documents for a client of one's own, not through ``FastHttpSession.request``
        with ``catch_response``: that path copies the response into a context manager and
        merges dictionaries on every request, a sixth of a request's CPU here."""
        ids = new_request_ids(self.ids_rng)
        session = self.client
        url = f"{session.base_url}{route.format(**path) if path else route}"
        headers = {
            "traceparent": ids.traceparent,
            "X-Request-ID": ids.request_id,
            "baggage": BAGGAGE,
            "Accept-Encoding": "gzip, deflate, br",  # as FastHttpSession asks
        }
        if session.auth_header:  # credentials in the host's URL
            headers["Authorization"] = session.auth_header
        payload: str | None = None
        if json is not None:
            payload = json_codec.dumps(json)
            headers["Content-Type"] = headers["Accept"] = "application/json"
        TracedUser.requests_started += 1
        start_time = time.time()
        started = time.perf_counter()
        response: Any = None
        problem: BaseException | None = None  # the transport's error: no (whole) response
        content: bytes | None = None
        try:
            response = session.client.urlopen(url, method=method, payload=payload, headers=headers)
        except FAILURE_EXCEPTIONS as exc:
            response = getattr(exc, "response", None)  # a status Locust's agent refuses: 404...
            if response is None:
                problem = exc
        if response is not None:
            try:
                content = response.content
            except FAILURE_EXCEPTIONS as exc:  # the body broke off: no whole response
                response, problem = None, exc
        latency_ms = (time.perf_counter() - started) * 1000.0
        status = int(response.status_code or 0) if response is not None else 0
        if 200 <= status < 300:
            failure: BaseException | None = None
        elif status:
            failure = CatchResponseError(_failure_text(status, _json_body(content)))
        else:
            failure = problem
        self.environment.events.request.fire(
            request_type=method,
            name=route,
            response_time=latency_ms,
            response_length=len(content) if content else 0,
            response=response,
            context={
                "trace_id": ids.trace_id,
                "span_id": ids.span_id,
                "request_id": ids.request_id,
                "status": status,  # what the ledger records (no second look at the response)
                **self._context,
            },
            exception=failure,
            start_time=start_time,
            url=url,
        )
        return Reply(status, content)
