"""Every request of the ledger left a trace in Jaeger, with the services it went through.

:func:`check_traces` polls for the ledger's trace ids until all are found with their expected
services or the deadline passes; :func:`evaluate_traces` judges the observation (rules in
:mod:`assertions.checks.completeness`). Two paths answer, and the result's evidence says
which (``answered_by``):

- ``jaeger api``: batched ``/api/traces?traceID=...`` (Jaeger runs one storage query per id:
  about 1.5 ms an id);
- ``span store``, when the target names where Jaeger writes its spans: a few aggregations on
  its span indices (:mod:`assertions.backends.span_store`), bounded by the ledger's time
  range. The span tree of a seeded sample of the traces found is then read through Jaeger's
  own API (``span_tree_sample``): a sampled trace that Jaeger's API does not return, or
  returns without a service the request went through, fails the check (the store holds what
  Jaeger cannot show).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from assertions.backends.errors import BackendError
from assertions.backends.jaeger import DEFAULT_BATCH_SIZE, JaegerBackend, normalize_trace_id
from assertions.backends.span_store import SpanStoreBackend, TimeRange
from assertions.checks.completeness import (
    DEFAULT_DOWNSTREAM_BY_PREFIX,
    GATEWAY_SERVICE,
    CompletenessExpected,
    CompletenessObservation,
    Expectation,
    FoundCallback,
    Lookup,
    evaluate_completeness,
    expectations_from_ledger,
    poll_for_ids,
    sample_entries,
)
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import Clock, LedgerEntry

__all__ = [
    "ANSWERED_BY_JAEGER",
    "ANSWERED_BY_SPAN_STORE",
    "CHECK_NAME",
    "DEFAULT_TREE_SAMPLE",
    "WINDOW_SLACK_S",
    "check_traces",
    "evaluate_traces",
    "ledger_window",
    "trace_expectations",
]

CHECK_NAME = "traces.completeness"
ANSWERED_BY_JAEGER = "jaeger api"
ANSWERED_BY_SPAN_STORE = "span store"
DEFAULT_TREE_SAMPLE = 20  # traces whose span tree is read through Jaeger's API
WINDOW_SLACK_S = 60.0  # around the ledger's requests: clock skew between load and services
_LISTED_PROBLEMS = 10


def ledger_window(entries: Sequence[LedgerEntry], slack_s: float = WINDOW_SLACK_S) -> TimeRange:
    """From the first request's start to the last one's end, widened by ``slack_s``."""
    if not entries:
        raise ValueError("an empty ledger has no time range")
    return TimeRange(
        min(e.started_at for e in entries) - slack_s, max(e.ended_at for e in entries) + slack_s
    )


def _trace_key(entry: LedgerEntry) -> str:
    return normalize_trace_id(entry.trace_id) or entry.trace_id


def trace_expectations(
    entries: Sequence[LedgerEntry],
    *,
    count_unanswered: bool = False,
    gateway: str = GATEWAY_SERVICE,
    downstream_by_prefix: Mapping[str, str] = DEFAULT_DOWNSTREAM_BY_PREFIX,
) -> tuple[Expectation, ...]:
    """One expectation per trace id: its services, its request's end, whether it counts."""
    return expectations_from_ledger(
        entries,
        key=_trace_key,
        with_services=True,
        count_unanswered=count_unanswered,
        gateway=gateway,
        downstream_by_prefix=downstream_by_prefix,
    )


def evaluate_traces(
    observation: CompletenessObservation, expected: CompletenessExpected
) -> CheckResult:
    """Judge a polling observation: ratio of answered requests whose trace is complete."""
    return evaluate_completeness(CHECK_NAME, observation, expected)


def check_traces(
    entries: Sequence[LedgerEntry],
    *,
    backend: JaegerBackend,
    deadline_s: float,
    span_store: SpanStoreBackend | None = None,
    window: TimeRange | None = None,
    tree_sample: int = DEFAULT_TREE_SAMPLE,
    threshold: float = 1.0,
    sample_size: int | None = None,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    poll_interval_s: float = 1.0,
    count_unanswered: bool = False,
    gateway: str = GATEWAY_SERVICE,
    downstream_by_prefix: Mapping[str, str] = DEFAULT_DOWNSTREAM_BY_PREFIX,
    clock: Clock = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: FoundCallback | None = None,
) -> CheckResult:
    """Poll for the ledger's traces (all, or ``sample_size`` chosen with ``seed``): in
    ``span_store`` when given (spans that started within ``window``, by default the ledger's
    :func:`ledger_window`), then ``tree_sample`` of them through Jaeger's API; else through
    Jaeger's API alone.

    ``clock`` must be unix time: the ingest lag compares it with the ledger's timestamps.
    Never raises for a backend failure: it becomes an ``error`` result. ``on_progress`` is
    told the ids found as polling goes (:func:`~assertions.checks.completeness.poll_for_ids`).
    """
    expected = CompletenessExpected(threshold=threshold, deadline_s=deadline_s)
    chosen, sample = sample_entries(entries, sample_size, seed)
    expectations = trace_expectations(
        chosen,
        count_unanswered=count_unanswered,
        gateway=gateway,
        downstream_by_prefix=downstream_by_prefix,
    )

    def poll(lookup: Lookup, size: int) -> CompletenessObservation:
        return poll_for_ids(
            expectations,
            lookup,
            batch_size=size,
            deadline_s=deadline_s,
            interval_s=poll_interval_s,
            clock=clock,
            sleep=sleep,
            sample=sample,
            on_progress=on_progress,
        )

    if span_store is None:

        def lookup(batch: list[str]) -> dict[str, frozenset[str]]:
            found = backend.find_traces(batch, batch_size=batch_size)
            return {trace_id: summary.services for trace_id, summary in found.items()}

        observation = poll(lookup, backend.max_batch(batch_size))
        result = evaluate_traces(observation, expected)
        return replace(result, evidence={**result.evidence, "answered_by": ANSWERED_BY_JAEGER})

    span_window = window or (ledger_window(chosen) if chosen else TimeRange(0.0, 0.0))
    span_counts: dict[str, int] = {}

    def lookup_store(batch: list[str]) -> dict[str, frozenset[str]]:
        found = span_store.find_traces(batch, span_window)
        span_counts.update({trace_id: trace.span_count for trace_id, trace in found.items()})
        return {trace_id: trace.services for trace_id, trace in found.items()}

    observation = poll(lookup_store, span_store.max_batch())
    result = evaluate_traces(observation, expected)
    store_view = {
        "url": span_store.url,
        "index": span_store.index_pattern,
        "time_field": span_store.time_field,
        "window_unix": [span_window.start, span_window.end],
    }
    result = replace(
        result,
        evidence={
            **result.evidence,
            "answered_by": ANSWERED_BY_SPAN_STORE,
            "span_store": store_view,
        },
    )
    if result.status is Status.ERROR:
        return result
    if span_store.time_field is None and result.status is Status.FAILED:
        return replace(
            result,
            status=Status.ERROR,
            reason=f"no index matching {span_store.index_pattern!r} at {span_store.url} holds a "
            "span (no traceID field): either Jaeger stored none, or jaeger.span_store.index is "
            "not the pattern of its span indices (<index_prefix>-jaeger-span-*)",
        )
    wanted = {item.key: item.services for item in expectations}
    found_ids = [key for key in observation.found_at if key in wanted]
    return _check_span_trees(result, backend, found_ids, wanted, span_counts, tree_sample, seed)


def _check_span_trees(
    result: CheckResult,
    jaeger: JaegerBackend,
    found_ids: Sequence[str],
    wanted: Mapping[str, frozenset[str]],
    span_counts: Mapping[str, int],
    tree_sample: int,
    seed: int,
) -> CheckResult:
    """Read ``tree_sample`` of the traces the span store found through Jaeger's API: each
    must come back with every service its request went through."""
    count = min(tree_sample, len(found_ids))
    picked = sorted(random.Random(seed).sample(sorted(found_ids), count)) if count else []
    view: dict[str, Any] = {"checked_by": ANSWERED_BY_JAEGER, "ids": picked, "seed": seed}
    if not picked:
        return replace(result, evidence={**result.evidence, "span_tree_sample": view})
    try:
        shown = jaeger.find_traces(picked)
    except BackendError as exc:
        view["error"] = str(exc)
        return replace(
            result,
            status=Status.ERROR,
            reason=f"the span store answered; Jaeger's API could not be read for the span-tree "
            f"sample of {len(picked)} traces: {exc}",
            evidence={**result.evidence, "span_tree_sample": view},
        )
    problems: dict[str, str] = {}
    for trace_id in picked:
        trace = shown.get(trace_id)
        if trace is None:
            problems[trace_id] = "the span store holds it; Jaeger's API does not return it"
        elif not wanted[trace_id] <= trace.services:
            problems[trace_id] = (
                f"Jaeger's API shows services {sorted(trace.services)}, "
                f"expected {sorted(wanted[trace_id])}"
            )
    view["returned"] = len(shown)
    view["span_counts"] = {  # store's documents, spans Jaeger's API returned
        trace_id: [
            span_counts.get(trace_id),
            shown[trace_id].span_count if trace_id in shown else None,
        ]
        for trace_id in picked[:_LISTED_PROBLEMS]
    }
    view["problems"] = dict(list(problems.items())[:_LISTED_PROBLEMS])
    evidence = {**result.evidence, "span_tree_sample": view}
    if not problems or result.status is not Status.PASSED:
        return replace(result, evidence=evidence)
    first_id, first = next(iter(problems.items()))
    return replace(
        result,
        status=Status.FAILED,
        reason=f"{len(problems)} of {len(picked)} sampled traces are not whole through Jaeger's "
        f"API: {first_id}: {first}",
        evidence=evidence,
    )
