"""Service levels inside and outside fault windows: error ratio and p95 latency, within bounds.

Two sources, one judgement:

- the ledger (pure, :func:`ledger_slo`): a request belongs to a fault window when it started
  inside it (:meth:`~chaosgate.vocabulary.FaultWindow.contains`: the rollback's moment is
  still inside); an error is a request with no response (status 0) or a 5xx; the p95 latency is
  over the requests that got a response;
- Prometheus (:func:`prometheus_slo`): the gateway's ``http_requests_total`` and
  ``http_request_duration_seconds_bucket``, each series' growth over each segment of the run
  (each fault window, and the stretches between them), summed per side; an error is a 5xx
  status label; the p95 comes from the summed buckets, interpolated the way
  ``histogram_quantile`` does.

:func:`evaluate_slo` gives ``slo.<source>.outside_faults`` and ``slo.<source>.inside_faults``,
each only when bounds for that side are given. A side without requests is an error.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tenacity import Retrying, retry_if_exception_type

from assertions.backends.errors import BackendError
from assertions.backends.prometheus import PrometheusBackend
from assertions.checks._stats import histogram_quantile, percentile
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import Clock, FaultWindow, LedgerEntry, SloBounds, in_fault

__all__ = [
    "DEFAULT_SELECTOR",
    "SloExpected",
    "SloObservation",
    "SloStats",
    "check_prometheus_slo",
    "evaluate_slo",
    "is_error",
    "ledger_slo",
    "prometheus_slo",
    "split_segments",
]

DEFAULT_SELECTOR = 'service="gateway"'
Side = Literal["inside", "outside"]


@dataclass(frozen=True)
class SloExpected:
    outside: SloBounds | None = None  # None: not judged
    inside: SloBounds | None = None


@dataclass(frozen=True)
class SloStats:
    requests: float  # a float: Prometheus' increase() extrapolates
    errors: float
    p95_s: float | None

    @property
    def error_ratio(self) -> float | None:
        return self.errors / self.requests if self.requests > 0 else None


@dataclass(frozen=True)
class SloObservation:
    source: str  # "ledger" or "prometheus"
    inside: SloStats
    outside: SloStats
    attempts: int = 0


def is_error(entry: LedgerEntry) -> bool:
    """A request that failed the service level: no response (status 0), or a 5xx."""
    return entry.status == 0 or entry.status >= 500


def ledger_slo(entries: Sequence[LedgerEntry], windows: Sequence[FaultWindow]) -> SloObservation:
    """Error ratio and p95 latency of the ledger's requests, inside and outside the windows."""
    sides: dict[Side, list[LedgerEntry]] = {"inside": [], "outside": []}
    for entry in entries:
        sides["inside" if in_fault(entry.started_at, windows) else "outside"].append(entry)

    def stats(items: list[LedgerEntry]) -> SloStats:
        answered = [entry.latency_s for entry in items if entry.status != 0]
        errors = sum(1 for entry in items if is_error(entry))
        return SloStats(requests=len(items), errors=errors, p95_s=percentile(answered, 0.95))

    return SloObservation("ledger", inside=stats(sides["inside"]), outside=stats(sides["outside"]))


def split_segments(
    start: float, end: float, windows: Sequence[FaultWindow]
) -> list[tuple[float, float, Side]]:
    """``[start, end]`` cut at the windows' edges, each piece marked inside or outside."""
    edges = {start, end}
    for window in windows:
        edges.update(edge for edge in (window.start, window.end) if start < edge < end)
    ordered = sorted(edges)
    segments: list[tuple[float, float, Side]] = []
    for low, high in itertools.pairwise(ordered):
        if high > low:
            side: Side = "inside" if in_fault((low + high) / 2, windows) else "outside"
            segments.append((low, high, side))
    return segments


Counters = dict[frozenset[tuple[str, str]], float]


def _counters(backend: PrometheusBackend, selector: str, at: float) -> Counters:
    return {
        frozenset(sample.labels.items()): sample.value
        for sample in backend.instant(selector, at=at)
    }


def _growth(before: Counters, after: Counters) -> Counters:
    """Per series, how much a counter grew; a drop is a restart, counted from zero."""
    growth = {}
    for key, value in after.items():
        delta = value - before.get(key, 0.0)
        growth[key] = value if delta < 0 else delta
    return growth


def prometheus_slo(
    backend: PrometheusBackend,
    *,
    start: float,
    end: float,
    windows: Sequence[FaultWindow],
    selector: str = DEFAULT_SELECTOR,
) -> SloObservation:
    """Counter growth per segment of ``[start, end]``; raises :class:`BackendError`.

    Each counter series is read at every segment edge (the last scraped value at that time)
    and a segment gets the growth between its edges: contiguous segments share every
    increment exactly once, at scrape granularity, which ``increase()`` over each segment
    would not (it loses the increments that straddle two ranges).
    """
    segments = split_segments(start, end, windows)
    edges = sorted({edge for low, high, _ in segments for edge in (low, high)})
    requests = {
        edge: _counters(backend, f"http_requests_total{{{selector}}}", edge) for edge in edges
    }
    buckets = {
        edge: _counters(backend, f"http_request_duration_seconds_bucket{{{selector}}}", edge)
        for edge in edges
    }
    totals: dict[Side, list[float]] = {"inside": [0.0, 0.0], "outside": [0.0, 0.0]}
    by_le: dict[Side, dict[float, float]] = {"inside": {}, "outside": {}}
    for low, high, side in segments:
        for key, grown in _growth(requests[low], requests[high]).items():
            totals[side][0] += grown
            if dict(key).get("status", "").startswith("5"):
                totals[side][1] += grown
        for key, grown in _growth(buckets[low], buckets[high]).items():
            le = dict(key).get("le")
            if le is not None:
                bound = float(le)
                by_le[side][bound] = by_le[side].get(bound, 0.0) + grown

    def stats(side: Side) -> SloStats:
        count, errors = totals[side]
        return SloStats(count, errors, histogram_quantile(0.95, by_le[side]))

    return SloObservation("prometheus", stats("inside"), stats("outside"), 2 * len(edges))


def _judge(
    observation: SloObservation,
    side: Side,
    bounds: SloBounds,
    reason_if_error: str = "",
    *,
    evidence: Mapping[str, Any] | None = None,
) -> CheckResult:
    stats = observation.inside if side == "inside" else observation.outside
    name = f"slo.{observation.source}.{side}_faults"
    expected = {"max_error_ratio": bounds.max_error_ratio, "max_p95_s": bounds.max_p95_s}
    ratio = stats.error_ratio
    observed = {
        "requests": round(stats.requests, 3),
        "errors": round(stats.errors, 3),
        "error_ratio": None if ratio is None else round(ratio, 6),
        "p95_s": None if stats.p95_s is None else round(stats.p95_s, 4),
    }

    def result(status: Status, reason: str = "") -> CheckResult:
        return CheckResult(
            name=name,
            status=status,
            expected=expected,
            observed=observed,
            reason=reason,
            latency_s=observed["p95_s"],
            attempts=observation.attempts,
            evidence=dict(evidence or {}),
        )

    if reason_if_error:
        return result(Status.ERROR, reason_if_error)
    if ratio is None:
        return result(Status.ERROR, f"no requests {side} fault windows: nothing to judge")
    broken = []
    if bounds.max_error_ratio is not None and ratio > bounds.max_error_ratio:
        broken.append(f"error ratio {ratio:.2%} above {bounds.max_error_ratio:.2%}")
    if bounds.max_p95_s is not None:
        if stats.p95_s is None:
            return result(Status.ERROR, f"no latency observed {side} fault windows")
        if stats.p95_s > bounds.max_p95_s:
            broken.append(f"p95 latency {stats.p95_s:.3f} s above {bounds.max_p95_s:g} s")
    if broken:
        return result(Status.FAILED, f"{side} fault windows: " + "; ".join(broken))
    return result(Status.PASSED)


def evaluate_slo(observation: SloObservation, expected: SloExpected) -> list[CheckResult]:
    """One result per side that has bounds."""
    results = []
    if expected.outside is not None:
        results.append(_judge(observation, "outside", expected.outside))
    if expected.inside is not None:
        results.append(_judge(observation, "inside", expected.inside))
    return results


def check_prometheus_slo(
    windows: Sequence[FaultWindow],
    expected: SloExpected,
    *,
    backend: PrometheusBackend,
    start: float,
    end: float,
    deadline_s: float,
    selector: str = DEFAULT_SELECTOR,
    settle_s: float = 2.0,
    retry_interval_s: float = 1.0,
    clock: Clock = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CheckResult]:
    """Query Prometheus once it has scraped past ``end`` (``settle_s``), retrying failures.

    Gives up after ``deadline_s`` (tenacity: no attempt starts after it, so a hanging
    Prometheus costs the deadline plus one request timeout): every judged side is then an
    error naming the last failure, with ``backend_failed`` in its evidence. ``deadline_s`` 0
    makes one attempt.
    """
    give_up = clock() + deadline_s
    wait = end + settle_s - clock()
    if wait > 0:
        sleep(min(wait, deadline_s))
    retrying = Retrying(
        retry=retry_if_exception_type(BackendError),
        stop=lambda _state: clock() >= give_up,
        wait=lambda _state: max(0.0, min(retry_interval_s, give_up - clock())),
        sleep=sleep,
        reraise=True,
    )
    attempts = 0

    def attempt() -> SloObservation:
        nonlocal attempts
        attempts += 1
        return prometheus_slo(backend, start=start, end=end, windows=windows, selector=selector)

    try:
        observation = retrying(attempt)
    except BackendError as exc:
        failed = SloObservation("prometheus", SloStats(0, 0, None), SloStats(0, 0, None), attempts)
        sides: list[tuple[Side, SloBounds | None]] = [
            ("outside", expected.outside),
            ("inside", expected.inside),
        ]
        return [
            _judge(
                failed,
                side,
                bounds,
                f"prometheus could not be read within {deadline_s:g} s: {exc}",
                evidence={"backend_failed": True, "attempts": attempts},
            )
            for side, bounds in sides
            if bounds is not None
        ]
    return evaluate_slo(observation, expected)
