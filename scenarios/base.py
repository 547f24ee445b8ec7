"""The base of every simulated user: one request helper that traces, names and judges requests.

:meth:`TracedUser.call` is the only way the users send requests. It gives each request fresh
ids and their headers (:mod:`scenarios.tracing`), names it by its route template in Locust's
stats (``name=``), puts the ids in the request's Locust context (which
:class:`scenarios.recorder.LedgerRecorder` writes to the ledger) and marks any status outside
2xx as a failure.

The users are Locust's :class:`~locust.contrib.fasthttp.FastHttpUser` (geventhttpclient): about
half the CPU per request of the requests-based ``HttpUser``. A request that got no response
(refused, reset, timed out) comes back as Locust's ``ErrorResponse``, status 0 with the
transport error in its ``error``, which the ledger records as it did with ``HttpUser``.
"""

from __future__ import annotations

import itertools
import json as json_codec
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment

from scenarios.tracing import new_request_ids, user_rng

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
        """Locust merges it into each request's context (a new dict: this one is not changed)."""
        return self._context

    def call(self, method: str, route: str, *, json: Any = None, **path: object) -> Reply:
        """Send ``method`` to ``route`` (a template such as ``/api/orders/{id}``, filled from
        ``path``) with ``json`` as the body."""
        ids = new_request_ids(self.ids_rng)
        url = route.format(**path) if path else route
        TracedUser.requests_started += 1
        with self.client.request(
            method,
            url,
            name=route,
            catch_response=True,
            context={
                "trace_id": ids.trace_id,
                "span_id": ids.span_id,
                "request_id": ids.request_id,
            },
            headers=ids.headers(),
            json=json,
        ) as response:
            status = int(response.status_code or 0)
            content: bytes | None = None
            if 200 <= status < 300:
                response.success()
                content = response.content
            elif status:
                response.failure(_failure_text(status, _json_body(response.content)))
            # status 0: Locust reports the transport error itself
        return Reply(status, content)
