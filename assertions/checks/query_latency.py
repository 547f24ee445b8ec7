"""``traces.query_latency``: the platform promises Jaeger's trace queries answer within a bound
(1 s by default: ``jaeger.query_latency_bound_s``); this check times them, from the same run.

Two queries, as a user of Jaeger makes them (:class:`~assertions.backends.jaeger_queries.
JaegerQueries`): a trace by id (``GET /api/traces/{id}``, an id of a request the load just
sent) and a search by service over the run's window (``GET /api/traces?service=...&start=...
&end=...&limit=...``, the services taking turns). :class:`QueryLatencyProbe` times one of each
per round while the load runs (phase ``during``), and :meth:`QueryLatencyProbe.measure_after`
a few rounds once it has ended (phase ``after``). :func:`evaluate_query_latency` judges each
query kind's p95 against the bound; p50 and p95 per kind and phase are in ``observed``, every
sample (up to :data:`MAX_LISTED_SAMPLES`, and the slowest) in the evidence. Queries made inside
a fault window are left out of the judgement and counted (a fault of Jaeger or its store is
the experiment's to judge, as for the ingest lag).

A query that timed out counts with the time it took (it answered later than that, if at all);
a query that failed otherwise (refused, 5xx, a malformed answer) is no latency: it is listed,
and makes the check an error unless the bound was already broken.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assertions.backends.errors import BackendError
from assertions.backends.jaeger_queries import JaegerQueries
from assertions.checks._polling import PollingThread
from assertions.checks._stats import summary
from assertions.checks.completeness import DEFAULT_DOWNSTREAM_BY_PREFIX, GATEWAY_SERVICE
from assertions.result import CheckResult, Status
from chaosgate.request_ledger import LedgerTail
from chaosgate.vocabulary import Clock, FaultWindow, LedgerEntry, in_fault

__all__ = [
    "CHECK_NAME",
    "DEFAULT_BOUND_S",
    "DEFAULT_SERVICES",
    "MAX_LISTED_SAMPLES",
    "QueryLatencyProbe",
    "QuerySample",
    "QueryTimer",
    "check_query_latency",
    "evaluate_query_latency",
]

CHECK_NAME = "traces.query_latency"
DEFAULT_BOUND_S = 1.0
DEFAULT_SERVICES: tuple[str, ...] = (
    GATEWAY_SERVICE,
    *dict.fromkeys(DEFAULT_DOWNSTREAM_BY_PREFIX.values()),
)
DEFAULT_SEARCH_LIMIT = 20  # the UI's default
MAX_LISTED_SAMPLES = 200
_KEPT_IDS = 1000  # recent trace ids the probe picks from
_SLOWEST = 10
_MAX_ERRORS = 5

Kind = Literal["by_id", "search"]
Phase = Literal["during", "after"]
KINDS: tuple[Kind, ...] = ("by_id", "search")
PHASES: tuple[Phase, ...] = ("during", "after")


@dataclass(frozen=True)
class QuerySample:
    phase: Phase
    kind: Kind
    seconds: float
    outcome: str  # "found" / "not found" / "<n> traces", or the failure
    answered: bool  # Jaeger answered (found or not)
    timed_out: bool = False
    at: float = 0.0  # unix time the query was sent

    @property
    def timed(self) -> bool:
        """Counts as a latency: answered, or timed out (at least this long)."""
        return self.answered or self.timed_out

    def as_json(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "kind": self.kind,
            "s": round(self.seconds, 4),
            "outcome": self.outcome,
            "at": round(self.at, 3),
        }


class QueryTimer:
    """Times queries through ``queries`` with ``timer`` (a monotonic clock) and keeps each
    :class:`QuerySample`; searches take the services of ``services`` in turn."""

    def __init__(
        self,
        queries: JaegerQueries,
        *,
        services: Sequence[str] = DEFAULT_SERVICES,
        search_limit: int = DEFAULT_SEARCH_LIMIT,
        timer: Callable[[], float] = time.perf_counter,
        clock: Clock = time.time,
    ) -> None:
        if not services:
            raise ValueError("no service to search for; give at least one service name")
        self._queries = queries
        self._services = tuple(services)
        self._limit = search_limit
        self._timer = timer
        self._clock = clock
        self._turn = 0
        self.samples: list[QuerySample] = []

    @property
    def services(self) -> tuple[str, ...]:
        return self._services

    def _timed(self, phase: Phase, kind: Kind, call: Callable[[], str]) -> None:
        at = self._clock()
        started = self._timer()
        try:
            outcome = call()
        except BackendError as exc:
            elapsed = self._timer() - started
            timed_out = exc.reason.startswith("timed out")
            self.samples.append(
                QuerySample(phase, kind, elapsed, str(exc), False, timed_out, at=at)
            )
            return
        elapsed = self._timer() - started
        self.samples.append(QuerySample(phase, kind, elapsed, outcome, True, at=at))

    def by_id(self, trace_id: str, phase: Phase) -> None:
        def call() -> str:
            return "found" if self._queries.trace_by_id(trace_id).traces else "not found"

        self._timed(phase, "by_id", call)

    def search(self, start_unix: float, end_unix: float, phase: Phase) -> None:
        service = self._services[self._turn % len(self._services)]
        self._turn += 1

        def call() -> str:
            answer = self._queries.search(service, start_unix, end_unix, self._limit)
            return f"{answer.traces} traces of {service}"

        self._timed(phase, "search", call)


def evaluate_query_latency(
    made: Sequence[QuerySample],
    *,
    bound_s: float,
    services: Sequence[str] = (),
    fault_windows: Sequence[FaultWindow] = (),
    grace_s: float = 2.0,
) -> CheckResult:
    """Passed when each query kind's p95 is within ``bound_s``; failed when one is over it;
    an error when a kind has no timed query, or queries failed (and the bound held). Queries
    sent inside ``fault_windows`` (widened by ``grace_s``) are not judged."""
    samples = [s for s in made if not in_fault(s.at, fault_windows, grace_s=grace_s)]
    timed = {kind: [s.seconds for s in samples if s.kind == kind and s.timed] for kind in KINDS}
    observed: dict[str, Any] = {
        kind: {
            "queries": sum(1 for s in samples if s.kind == kind),
            "all": summary(timed[kind]),
            **{
                phase: summary(
                    s.seconds for s in samples if s.kind == kind and s.phase == phase and s.timed
                )
                for phase in PHASES
            },
        }
        for kind in KINDS
    }
    failures = [s for s in samples if not s.timed]
    observed["failed_queries"] = len(failures)
    expected = {"p95_at_most_s": bound_s, "queries": ["trace by id", "search by service"]}
    evidence: dict[str, Any] = {
        "samples": [s.as_json() for s in samples[:MAX_LISTED_SAMPLES]],
        "samples_total": len(samples),
        "slowest": [
            s.as_json() for s in sorted(samples, key=lambda s: s.seconds, reverse=True)[:_SLOWEST]
        ],
        "excluded_in_fault_windows": len(made) - len(samples),
        "errors": [s.outcome for s in failures[-_MAX_ERRORS:]],
        "services": list(services),
        "method": "wall time of each HTTP query to Jaeger's API, by id (an id the load just "
        "sent) and by service over the run's window, one of each per round",
    }
    p95s = {kind: observed[kind]["all"]["p95"] for kind in KINDS}
    worst = max((p for p in p95s.values() if p is not None), default=None)

    def result(status: Status, reason: str = "") -> CheckResult:
        return CheckResult(
            CHECK_NAME, status, expected, observed, reason, worst, len(samples), evidence
        )

    if not samples:
        return result(
            Status.ERROR,
            f"all {len(made)} queries were sent inside fault windows: none is judged"
            if made
            else "no Jaeger query was timed (the probe made none)",
        )
    over = {kind: p for kind, p in p95s.items() if p is not None and p > bound_s}
    if over:
        said = ", ".join(f"{_label(kind)} p95 {p:g} s" for kind, p in over.items())
        return result(Status.FAILED, f"{said}: over the {bound_s:g} s bound")
    untimed = [kind for kind, p in p95s.items() if p is None]
    if untimed or failures:
        what = (
            f"no {' or '.join(_label(k) for k in untimed)} query was answered"
            if untimed
            else f"{len(failures)} of {len(samples)} queries failed"
        )
        last = failures[-1].outcome if failures else "none made"
        return result(Status.ERROR, f"{what}: {last}")
    return result(Status.PASSED)


def _label(kind: Kind) -> str:
    return "trace-by-id" if kind == "by_id" else "search-by-service"


class QueryLatencyProbe:
    """Between :meth:`start` and :meth:`stop`, one timed query of each kind per round, on the
    ids of the requests the ledger gained since the last round; then :meth:`measure_after`."""

    def __init__(
        self,
        queries: JaegerQueries,
        tail: LedgerTail,
        *,
        window_start: float,
        services: Sequence[str] = DEFAULT_SERVICES,
        interval_s: float = 2.0,
        after_rounds: int = 5,
        after_interval_s: float = 0.5,
        seed: int = 0,
        clock: Clock = time.time,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._timer = QueryTimer(queries, services=services, timer=timer, clock=clock)
        self._tail = tail
        self._window_start = window_start
        self._after_rounds = after_rounds
        self._after_interval_s = after_interval_s
        self._random = random.Random(seed)
        self._clock = clock
        self._recent: list[str] = []  # trace ids of answered requests, newest last
        self._rounds = PollingThread("query-latency-probe", interval_s, self.poll_once)

    @property
    def samples(self) -> list[QuerySample]:
        return list(self._timer.samples)

    def _remember(self, entries: Sequence[LedgerEntry]) -> list[str]:
        new = [e.trace_id for e in entries if e.status != 0]
        self._recent = (self._recent + new)[-_KEPT_IDS:]
        return new

    def _round(self, phase: Phase, pick_from: Sequence[str], window_end: float) -> None:
        if pick_from:
            self._timer.by_id(self._random.choice(pick_from), phase)
        self._timer.search(self._window_start, window_end, phase)

    def poll_once(self) -> None:
        """One round while the load runs: an id the ledger just gained (else a recent one)."""
        new = self._remember(self._tail.new_entries())
        self._round("during", new or self._recent, self._clock())

    def start(self) -> QueryLatencyProbe:
        self._rounds.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._rounds.stop(timeout_s)

    def measure_after(
        self, sleep: Callable[[float], None] = time.sleep, *, window_end: float | None = None
    ) -> None:
        """After the load (and :meth:`stop`): ``after_rounds`` rounds, ``after_interval_s`` apart,
        on the ids of the whole load, the search over the load's whole window; the first round
        with a query that failed or timed out is the last."""
        self._rounds.join()  # never two threads on the samples
        self._remember(self._tail.new_entries())
        end = window_end if window_end is not None else self._clock()
        for number in range(self._after_rounds):
            if number:
                sleep(self._after_interval_s)
            made = len(self._timer.samples)
            self._round("after", self._recent, end)
            if not all(s.answered for s in self._timer.samples[made:]):
                break  # a hanging or failing Jaeger: more rounds would only cost timeouts

    def result(
        self, bound_s: float = DEFAULT_BOUND_S, fault_windows: Sequence[FaultWindow] = ()
    ) -> CheckResult:
        return evaluate_query_latency(
            self._timer.samples,
            bound_s=bound_s,
            services=self._timer.services,
            fault_windows=fault_windows,
        )


def check_query_latency(
    entries: Sequence[LedgerEntry],
    *,
    queries: JaegerQueries,
    bound_s: float = DEFAULT_BOUND_S,
    window: tuple[float, float],
    rounds: int = 10,
    interval_s: float = 0.5,
    services: Sequence[str] = DEFAULT_SERVICES,
    seed: int = 0,
    sleep: Callable[[float], None] = time.sleep,
    timer: Callable[[], float] = time.perf_counter,
) -> CheckResult:
    """After the fact (a past run's ledger): ``rounds`` rounds of both queries, phase
    ``after``, on ids of ``entries`` and the search over ``window`` (unix seconds)."""
    timer_ = QueryTimer(queries, services=services, timer=timer)
    answered = [e.trace_id for e in entries if e.status != 0]
    picker = random.Random(seed)
    for number in range(rounds):
        if number:
            sleep(interval_s)
        made = len(timer_.samples)
        if answered:
            timer_.by_id(picker.choice(answered), "after")
        timer_.search(window[0], window[1], "after")
        if not all(s.answered for s in timer_.samples[made:]):
            break  # a hanging or failing Jaeger: more rounds would only cost timeouts
    return evaluate_query_latency(timer_.samples, bound_s=bound_s, services=timer_.services)
