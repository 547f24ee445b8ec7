"""Ingest lag measured live: how long after a request its trace / logs become searchable.

The completeness checks run after the load and can only bound the lag from above (every id is
already there at the first poll). This probe runs *during* the load: it tails the ledger,
samples a few new requests each round, and polls Jaeger and Elasticsearch for the sampled ids
until each is found or its deadline passes. Lag = the poll that first found it minus the
request's end, so its resolution is the poll interval. An id whose deadline passed while polls
of its backend failed was not observed missing: it makes the check an error, never a failure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.errors import BackendError
from assertions.backends.jaeger import JaegerBackend
from assertions.checks._polling import PollingThread
from assertions.checks._stats import summary
from assertions.result import CheckResult, Status
from chaosgate.request_ledger import LedgerTail
from chaosgate.vocabulary import Clock, FaultWindow, LedgerEntry, in_fault

__all__ = ["IngestLagProbe", "LagObservation", "LagSample", "evaluate_ingest_lag"]

_MAX_ERRORS = 200


@dataclass
class LagObservation:
    """What one backend's probing saw (mutable while the probe runs, copied when read)."""

    lags_s: list[float] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)  # ids not found within the deadline
    # ids whose deadline passed while polls failed: nobody knows whether they were there
    unobserved: list[str] = field(default_factory=list)
    pending: int = 0  # ids still being polled when the probe stopped (not judged)
    errors: list[str] = field(default_factory=list)
    polls: int = 0
    in_faults: int = 0  # sampled requests inside fault windows (a fault may delay ingest)


@dataclass(frozen=True)
class LagSample:
    key: str
    ended: float  # the request's end, unix seconds
    lag_s: float | None  # None: not found within the deadline
    unobserved: bool = False  # not found, but a poll failed while it was waited for


def evaluate_ingest_lag(
    observation: LagObservation, *, name: str, deadline_s: float
) -> CheckResult:
    """Passed when every sampled id was found within the deadline; the latency is the p95.
    Failed when one was not; an error when nothing was judged or some ids could not be looked
    up (their backend failed while they were waited for)."""
    stats = summary(observation.lags_s)
    unobserved = len(observation.unobserved)
    sampled = len(observation.lags_s) + len(observation.missed) + unobserved
    observed = {
        "sampled": sampled,
        "found": len(observation.lags_s),
        "unobserved": unobserved,
        "lag_s": stats,
    }
    evidence = {
        "missed": observation.missed[:20],
        "unobserved": observation.unobserved[:20],
        "pending_at_stop": observation.pending,
        "excluded_in_fault_windows": observation.in_faults,
        "errors": observation.errors[:5],
        "method": "live sample: first poll that found the id minus the request's end",
    }
    expected = {"found_within_s": deadline_s}
    if sampled == 0:
        reason = "no sampled request was judged" + (
            f"; backend errors: {observation.errors[0]}" if observation.errors else ""
        )
        return CheckResult(
            name, Status.ERROR, expected, observed, reason, None, observation.polls, evidence
        )
    if unobserved and not observation.missed:
        last = observation.errors[-1] if observation.errors else "unknown"
        return CheckResult(
            name,
            Status.ERROR,
            expected,
            observed,
            f"{unobserved} of {sampled} sampled requests could not be looked up within "
            f"{deadline_s:g} s: the backend failed: {last}",
            stats["p95"],
            observation.polls,
            evidence,
        )
    if observation.missed:
        return CheckResult(
            name,
            Status.FAILED,
            expected,
            observed,
            f"{len(observation.missed)} of {sampled} sampled requests not searchable within "
            f"{deadline_s:g} s",
            stats["p95"],
            observation.polls,
            evidence,
        )
    return CheckResult(
        name, Status.PASSED, expected, observed, "", stats["p95"], observation.polls, evidence
    )


class _Tracker:
    def __init__(self, find: Callable[[list[str]], set[str]], deadline_s: float) -> None:
        self._find = find
        self._deadline_s = deadline_s
        self.pending: dict[str, float] = {}  # id -> request end (unix)
        self.samples: list[LagSample] = []
        self.errors: list[str] = []
        self.failed_at: list[float] = []  # when polls failed
        self.polls = 0

    def poll(self, now: float) -> None:
        if not self.pending:
            return
        self.polls += 1
        try:
            found = self._find(list(self.pending))
        except BackendError as exc:
            self.errors.append(str(exc))
            self.failed_at.append(now)
            del self.errors[:-_MAX_ERRORS], self.failed_at[:-_MAX_ERRORS]
            found = set()
        for key in found & set(self.pending):
            ended = self.pending.pop(key)  # only one thread polls (drain joins the probe's)
            self.samples.append(LagSample(key, ended, max(0.0, now - ended)))
        for key, ended in list(self.pending.items()):
            if now - ended > self._deadline_s:
                blind = any(ended <= at <= now for at in self.failed_at)
                self.samples.append(LagSample(key, ended, None, unobserved=blind))
                del self.pending[key]

    def observation(self, windows: Sequence[FaultWindow], grace_s: float) -> LagObservation:
        """The samples whose request ended outside every fault window (widened by
        ``grace_s``)."""
        judged = [s for s in self.samples if not in_fault(s.ended, windows, grace_s=grace_s)]
        return LagObservation(
            lags_s=[s.lag_s for s in judged if s.lag_s is not None],
            missed=[s.key for s in judged if s.lag_s is None and not s.unobserved],
            unobserved=[s.key for s in judged if s.lag_s is None and s.unobserved],
            pending=len(self.pending),
            errors=list(self.errors),
            polls=self.polls,
            in_faults=len(self.samples) - len(judged),
        )


class IngestLagProbe:
    """Between :meth:`start` and :meth:`stop`, samples new ledger entries and polls for them."""

    def __init__(
        self,
        tail: LedgerTail,
        *,
        jaeger: JaegerBackend,
        elasticsearch: ElasticsearchBackend,
        trace_id_field: str,
        traces_deadline_s: float,
        logs_deadline_s: float,
        per_round: int = 3,
        interval_s: float = 0.5,
        seed: int = 0,
        clock: Clock = time.time,
    ) -> None:
        self._tail = tail
        self._per_round = per_round
        self._interval_s = interval_s
        self._random = random.Random(seed)
        self._clock = clock
        self._traces = _Tracker(lambda ids: set(jaeger.find_traces(ids)), traces_deadline_s)
        self._logs = _Tracker(
            lambda ids: set(elasticsearch.find_ids(trace_id_field, ids)), logs_deadline_s
        )
        self._rounds = PollingThread("ingest-lag-probe", interval_s, self.poll_once)

    def _sample(self, entries: Sequence[LedgerEntry]) -> list[LedgerEntry]:
        # only requests that got a response from the platform are expected to be traced
        answered = [e for e in entries if e.status != 0]
        return self._random.sample(answered, min(self._per_round, len(answered)))

    def poll_once(self) -> None:
        for entry in self._sample(self._tail.new_entries()):
            self._traces.pending[entry.trace_id] = entry.ended_at
            self._logs.pending[entry.trace_id] = entry.ended_at
        now = self._clock()
        self._traces.poll(now)
        self._logs.poll(now)

    def start(self) -> IngestLagProbe:
        self._rounds.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._rounds.stop(timeout_s)

    def drain(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """After :meth:`stop`: keep polling the sampled ids until each is found or expires.

        First waits for the probe's thread to finish the poll it may be in (a hanging backend
        keeps it there up to a request timeout per backend, longer than :meth:`stop` waits),
        so that the trackers are never polled by two threads at once.
        """
        self._rounds.join()
        while self._traces.pending or self._logs.pending:
            sleep(self._interval_s)
            now = self._clock()
            self._traces.poll(now)
            self._logs.poll(now)

    def results(
        self,
        *,
        traces_deadline_s: float,
        logs_deadline_s: float,
        fault_windows: Sequence[FaultWindow] = (),
        grace_s: float = 2.0,
    ) -> list[CheckResult]:
        """Judged outside the fault windows: a fault (a stopped log shipper, say) may delay
        ingest; whether the data arrived at all is the completeness checks' question."""
        return [
            evaluate_ingest_lag(
                self._traces.observation(fault_windows, grace_s),
                name="traces.ingest_lag",
                deadline_s=traces_deadline_s,
            ),
            evaluate_ingest_lag(
                self._logs.observation(fault_windows, grace_s),
                name="logs.ingest_lag",
                deadline_s=logs_deadline_s,
            ),
        ]
