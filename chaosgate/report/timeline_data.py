"""The timeline's data: the load per second from the request ledger, the fault windows from
summary.json's timeline, and (:mod:`chaosgate.report.timeline_checks`) what the checks saw.

Pure functions from a run's records to plain series, so that what report.html draws is
tested apart from the drawing. Time is in seconds since the run started (summary.json's
``started_at``), the one axis every panel shares.

- :func:`rate_series`: requests per second and error ratio per second, for every scenario
  together (``"all"``) and for each, over one shared range of buckets (a second without a
  request is 0 requests, its error ratio unknown). An error is what the SLO check counts: no
  response (status 0) or a 5xx.
- :func:`latency_series`: p95 latency of the answered requests per bucket (5 s by default:
  a second holds too few requests for a p95).
- :func:`fault_spans`: each experiment's fault from its first injected action to the end of
  its rollbacks (summary.json's ``fault_window`` records, or the events when an older run has
  none), named by its ``chaos.<name>`` check when one matches its inject moment.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from assertions.checks._stats import percentile
from assertions.checks.slo import is_error
from assertions.result import CheckResult
from chaosgate.chaos.timeline import ExperimentSpan, Timeline, TimelineEvent
from chaosgate.report.run_folder import RunFolder
from chaosgate.report.timeline_checks import (
    AlertLifecycle,
    IngestLag,
    UnexpectedAlert,
    alert_lifecycles,
    ingest_lags,
    number,
    unexpected_alerts,
)
from chaosgate.vocabulary import LedgerEntry

__all__ = [
    "ALL_SCENARIOS",
    "FaultSpan",
    "LatencySeries",
    "RateSeries",
    "TimelineData",
    "experiment_spans",
    "fault_spans",
    "is_error",
    "latency_series",
    "rate_series",
    "timeline_data",
]

ALL_SCENARIOS = "all"


@dataclass(frozen=True)
class RateSeries:
    scenario: str  # a Locust user class, or ALL_SCENARIOS
    t_s: tuple[float, ...]  # each bucket's start, seconds since the run started
    requests_per_s: tuple[float, ...]
    error_ratio: tuple[float | None, ...]  # None: no request in that bucket


@dataclass(frozen=True)
class LatencySeries:
    scenario: str
    t_s: tuple[float, ...]
    p95_s: tuple[float | None, ...]  # of the answered requests; None: none answered


def _buckets(entries: Sequence[LedgerEntry], origin: float, bucket_s: float) -> range:
    if bucket_s <= 0:
        raise ValueError(f"bucket_s must be above 0, not {bucket_s}")
    if not entries:
        return range(0)
    indices = [math.floor((entry.started_at - origin) / bucket_s) for entry in entries]
    return range(min(indices), max(indices) + 1)


def _by_scenario(entries: Sequence[LedgerEntry]) -> dict[str, list[LedgerEntry]]:
    groups: dict[str, list[LedgerEntry]] = {ALL_SCENARIOS: list(entries)}
    for entry in entries:
        groups.setdefault(entry.scenario, []).append(entry)
    return {name: groups[name] for name in [ALL_SCENARIOS, *sorted(set(groups) - {ALL_SCENARIOS})]}


def _scenario_buckets(
    entries: Sequence[LedgerEntry], origin: float, bucket_s: float
) -> Iterator[tuple[str, tuple[float, ...], list[list[LedgerEntry]]]]:
    """Per scenario (``"all"`` first): each bucket's start and its entries, over the span of
    the whole ledger (so every series shares the same times; nothing without entries)."""
    span = _buckets(entries, origin, bucket_s)
    times = tuple(index * bucket_s for index in span)
    for scenario, items in (_by_scenario(entries) if span else {}).items():
        buckets: dict[int, list[LedgerEntry]] = defaultdict(list)
        for entry in items:
            buckets[math.floor((entry.started_at - origin) / bucket_s)].append(entry)
        yield scenario, times, [buckets.get(index, []) for index in span]


def rate_series(
    entries: Sequence[LedgerEntry], origin: float, *, bucket_s: float = 1.0
) -> list[RateSeries]:
    """Requests per second and error ratio per bucket, ``"all"`` first, then per scenario
    (none without entries)."""
    series = []
    for scenario, times, buckets in _scenario_buckets(entries, origin, bucket_s):
        rates = tuple(len(bucket) / bucket_s for bucket in buckets)
        ratios = tuple(
            sum(1 for entry in bucket if is_error(entry)) / len(bucket) if bucket else None
            for bucket in buckets
        )
        series.append(RateSeries(scenario, times, rates, ratios))
    return series


def latency_series(
    entries: Sequence[LedgerEntry], origin: float, *, bucket_s: float = 5.0
) -> list[LatencySeries]:
    """p95 latency of the answered requests per bucket, ``"all"`` first, then per scenario
    (none without entries)."""
    return [
        LatencySeries(
            scenario,
            times,
            tuple(
                percentile([e.latency_s for e in bucket if e.status != 0], 0.95)
                for bucket in buckets
            ),
        )
        for scenario, times, buckets in _scenario_buckets(entries, origin, bucket_s)
    ]


@dataclass(frozen=True)
class FaultSpan:
    """One experiment's fault, in seconds since the run started."""

    name: str  # the experiment's file stem (its chaos.<name> check), else its title
    title: str
    start_s: float  # the first injected action (the experiment's start if none was)
    end_s: float  # the end of its rollbacks (the experiment's or the run's end if none)
    status: str  # the experiment's end status ("completed", "deviated", ...; "" unknown)
    injected: bool
    rolled_back: bool


def _known(record: Mapping[str, Any], kind: type[Any]) -> dict[str, Any]:
    """``record``'s values of ``kind``'s fields (None for a missing one; others ignored)."""
    return {item.name: record.get(item.name) for item in fields(kind)}


def experiment_spans(timeline: Sequence[Mapping[str, Any]]) -> list[ExperimentSpan]:
    """The experiments a summary's timeline records, with their fault windows."""
    records = [r["fault_window"] for r in timeline if isinstance(r.get("fault_window"), Mapping)]
    if records:
        return [ExperimentSpan(**_known(record, ExperimentSpan)) for record in records]
    events = Timeline()  # an older summary: the windows from the events, as the run made them
    for record in timeline:
        event = _known(record, TimelineEvent)
        if isinstance(event["kind"], str) and number(event["at"]) is not None:
            events.add(TimelineEvent(**event))
    return events.experiment_spans()


def _names(checks: Sequence[CheckResult]) -> dict[float, str]:
    """Each ``chaos.<name>`` check's inject moment -> name."""
    names = {}
    for check in checks:
        observed = check.observed if isinstance(check.observed, Mapping) else {}
        inject = number(observed.get("inject_at"))
        if check.name.startswith("chaos.") and inject is not None:
            names[inject] = check.name.removeprefix("chaos.")
    return names


def fault_spans(
    timeline: Sequence[Mapping[str, Any]],
    checks: Sequence[CheckResult],
    origin: float,
    run_end: float,
) -> list[FaultSpan]:
    """One span per experiment run, in the order they ran (``run_end``: unix seconds)."""
    names = _names(checks)
    spans = []
    for window in experiment_spans(timeline):
        start = number(window.inject_at)
        start = number(window.started_at) if start is None else start
        if start is None:
            continue
        end = next(
            (at for at in (number(window.rollback_at), number(window.ended_at)) if at is not None),
            run_end,
        )
        spans.append(
            FaultSpan(
                name=names.get(start, str(window.experiment)),
                title=str(window.experiment),
                start_s=start - origin,
                end_s=max(end, start) - origin,
                status=str(window.status or ""),
                injected=window.inject_at is not None,
                rolled_back=window.rollback_at is not None,
            )
        )
    return spans


@dataclass(frozen=True)
class TimelineData:
    """Everything the timeline draws, on one axis: seconds since ``origin``."""

    origin: float  # unix time of 0 (the run's start)
    end_s: float  # the run's end
    rates: Sequence[RateSeries] = ()
    latencies: Sequence[LatencySeries] = ()
    faults: Sequence[FaultSpan] = ()
    alerts: Sequence[AlertLifecycle] = ()
    unexpected: Sequence[UnexpectedAlert] = ()
    ingest: Sequence[IngestLag] = ()
    notes: Sequence[str] = field(default_factory=tuple)  # what could not be drawn, and why


def timeline_data(folder: RunFolder, *, latency_bucket_s: float = 5.0) -> TimelineData:
    """The timeline of ``folder``'s run; what it lacks is said in ``notes``."""
    origin, end = folder.started_at, folder.finished_at
    notes = []
    if folder.ledger_problem:
        notes.append(folder.ledger_problem)
    elif not folder.ledger:
        notes.append("no request ledger: the run recorded no request (no load panels)")
    faults = fault_spans(folder.timeline, folder.checks, origin, end)
    if not faults:
        notes.append("no fault window: no experiment injected a fault in this run")
    alerts = alert_lifecycles(folder.checks, origin)
    if not alerts:
        notes.append("no expected alert was judged in this run")
    ingest = ingest_lags(folder.checks, origin)
    if not ingest:
        notes.append("no ingest-lag check in this run")
    elif not any(lag.samples for lag in ingest):
        notes.append(
            "ingest lag: the checks record p50 / p95 / max only, not each sample's time "
            "(drawn as levels across the run)"
        )
    return TimelineData(
        origin=origin,
        end_s=max(end - origin, 0.0),
        rates=rate_series(folder.ledger, origin),
        latencies=latency_series(folder.ledger, origin, bucket_s=latency_bucket_s),
        faults=faults,
        alerts=alerts,
        unexpected=unexpected_alerts(folder.checks, origin),
        ingest=ingest,
        notes=tuple(notes),
    )
