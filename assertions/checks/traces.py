"""Every request of the ledger left a trace in Jaeger, with the services it went through.

:func:`check_traces` polls Jaeger (batched ``/api/traces?traceID=...``) for the ledger's trace
ids until all are found with their expected services or the deadline passes;
:func:`evaluate_traces` judges the observation (rules in :mod:`assertions.checks.completeness`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from assertions.backends.jaeger import DEFAULT_BATCH_SIZE, JaegerBackend, normalize_trace_id
from assertions.checks.completeness import (
    DEFAULT_DOWNSTREAM_BY_PREFIX,
    GATEWAY_SERVICE,
    CompletenessExpected,
    CompletenessObservation,
    Expectation,
    FoundCallback,
    evaluate_completeness,
    expectations_from_ledger,
    poll_for_ids,
    sample_entries,
)
from assertions.result import CheckResult
from chaosgate.vocabulary import Clock, LedgerEntry

__all__ = ["CHECK_NAME", "check_traces", "evaluate_traces", "trace_expectations"]

CHECK_NAME = "traces.completeness"


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
    """Poll Jaeger for the ledger's traces (all, or ``sample_size`` chosen with ``seed``).

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

    def lookup(batch: list[str]) -> dict[str, frozenset[str]]:
        found = backend.find_traces(batch, batch_size=batch_size)
        return {trace_id: summary.services for trace_id, summary in found.items()}

    observation = poll_for_ids(
        expectations,
        lookup,
        batch_size=backend.max_batch(batch_size),
        deadline_s=deadline_s,
        interval_s=poll_interval_s,
        clock=clock,
        sleep=sleep,
        sample=sample,
        on_progress=on_progress,
    )
    return evaluate_traces(observation, expected)
