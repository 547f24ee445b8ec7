"""The base of every simulated user: one request helper that traces, names and judges requests.

:meth:`TracedUser.call` is the only way the users send requests. It gives each request fresh
ids and their headers (:mod:`scenarios.tracing`), names it by its route template in Locust's
stats (``name=``), puts the ids in the request's Locust context (which
:class:`scenarios.recorder.LedgerRecorder` writes to the ledger) and marks any status outside
2xx as a failure.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

from locust import HttpUser
from locust.env import Environment

from scenarios.tracing import new_request_ids, user_rng

__all__ = ["Reply", "TracedUser"]

_DIGITS = re.compile(r"\d+")


class Reply(NamedTuple):
    status: int  # 0 when no response arrived
    body: Any  # the decoded JSON of a 2xx answer, else None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _failure_text(status: int, body: Any) -> str:
    """Short and id-free, so Locust groups failures of one kind into one row."""
    detail = body.get("error") if isinstance(body, dict) else None
    text = f"HTTP {status}"
    if isinstance(detail, str):
        text += ": " + _DIGITS.sub("N", detail)[:120]
    return text


class TracedUser(HttpUser):
    """An HttpUser whose requests all go through :meth:`call`."""

    abstract = True
    seed: ClassVar[int | None] = None  # set from CHAOSGATE_SEED by scenarios.setup
    run_id: ClassVar[str] = ""  # set from CHAOSGATE_RUN_ID by scenarios.setup
    _numbers: ClassVar[dict[str, Iterator[int]]] = {}  # users created so far, per class

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)  # type: ignore[no-untyped-call]
        runner = environment.runner
        worker = getattr(runner, "worker_index", 0) if runner is not None else 0
        scenario = type(self).__name__
        number = next(self._numbers.setdefault(scenario, itertools.count()))
        self.user_key = f"{scenario}/{worker}/{number}"  # the ledger's ``user``
        self.rng = user_rng(self.seed, worker, scenario, number)  # the user's choices
        # the request ids: reproducible with the seed; the run id (if any) keeps two runs with
        # the same seed from sending the same trace ids, which Jaeger would merge
        self.ids_rng = user_rng(self.seed, "ids", self.run_id, worker, scenario, number)

    def pause(self) -> None:
        """Wait as long as ``wait_time`` says, between the steps of one task."""
        self.wait()  # type: ignore[no-untyped-call]

    def context(self) -> dict[str, Any]:
        return {"scenario": type(self).__name__, "user": self.user_key}

    def call(self, method: str, route: str, *, json: Any = None, **path: object) -> Reply:
        """Send ``method`` to ``route`` (a template such as ``/api/orders/{id}``, filled from
        ``path``) with ``json`` as the body."""
        ids = new_request_ids(self.ids_rng)
        url = route.format(**path) if path else route
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
            try:
                body = response.json() if status else None
            except ValueError:
                body = None
            if 200 <= status < 300:
                response.success()
            elif status:
                response.failure(_failure_text(status, body))
            # status 0: Locust reports the transport error itself
        return Reply(status, body if 200 <= status < 300 else None)
