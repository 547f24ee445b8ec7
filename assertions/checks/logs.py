"""Every request of the ledger left log lines in Elasticsearch, found by its trace or request id.

:func:`check_logs` polls Elasticsearch (``terms`` queries of up to 1,000 ids) on one configured
field; call it once per field (trace id field, request id field). :func:`evaluate_logs` judges
the observation (rules in :mod:`assertions.checks.completeness`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from assertions.backends.elasticsearch import MAX_TERMS_BATCH, ElasticsearchBackend
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

__all__ = ["IdKind", "check_logs", "check_name", "evaluate_logs", "log_expectations"]

IdKind = Literal["trace_id", "request_id"]


def check_name(id_kind: IdKind) -> str:
    return f"logs.{id_kind}.completeness"


def log_expectations(
    entries: Sequence[LedgerEntry],
    id_kind: IdKind,
    *,
    expect_services: bool = False,
    count_unanswered: bool = False,
    gateway: str = GATEWAY_SERVICE,
    downstream_by_prefix: Mapping[str, str] = DEFAULT_DOWNSTREAM_BY_PREFIX,
) -> tuple[Expectation, ...]:
    """One expectation per id; with ``expect_services`` each service must have logged it."""

    def key(entry: LedgerEntry) -> str:
        return entry.trace_id if id_kind == "trace_id" else entry.request_id

    return expectations_from_ledger(
        entries,
        key=key,
        with_services=expect_services,
        count_unanswered=count_unanswered,
        gateway=gateway,
        downstream_by_prefix=downstream_by_prefix,
    )


def evaluate_logs(
    observation: CompletenessObservation, expected: CompletenessExpected, id_kind: IdKind
) -> CheckResult:
    """Judge a polling observation: ratio of answered requests whose log lines were found."""
    return evaluate_completeness(check_name(id_kind), observation, expected)


def check_logs(
    entries: Sequence[LedgerEntry],
    *,
    backend: ElasticsearchBackend,
    deadline_s: float,
    field: str,
    id_kind: IdKind = "trace_id",
    threshold: float = 1.0,
    sample_size: int | None = None,
    seed: int = 0,
    batch_size: int = MAX_TERMS_BATCH,
    timestamp_field: str = "@timestamp",
    expect_services: bool = False,
    poll_interval_s: float = 1.0,
    count_unanswered: bool = False,
    gateway: str = GATEWAY_SERVICE,
    downstream_by_prefix: Mapping[str, str] = DEFAULT_DOWNSTREAM_BY_PREFIX,
    clock: Clock = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: FoundCallback | None = None,
) -> CheckResult:
    """Poll Elasticsearch for the ledger's ``id_kind`` ids in document field ``field``.

    ``clock`` must be unix time (the lag compares it with the ledger). Never raises for a
    backend failure: it becomes an ``error`` result. ``on_progress`` is told the ids found
    as polling goes (:func:`~assertions.checks.completeness.poll_for_ids`).
    """
    expected = CompletenessExpected(threshold=threshold, deadline_s=deadline_s)
    chosen, sample = sample_entries(entries, sample_size, seed)
    expectations = log_expectations(
        chosen,
        id_kind,
        expect_services=expect_services,
        count_unanswered=count_unanswered,
        gateway=gateway,
        downstream_by_prefix=downstream_by_prefix,
    )

    def lookup(batch: list[str]) -> dict[str, frozenset[str]]:
        found = backend.find_ids(
            field, batch, batch_size=batch_size, timestamp_field=timestamp_field
        )
        return {key: summary.services for key, summary in found.items()}

    observation = poll_for_ids(
        expectations,
        lookup,
        batch_size=batch_size,
        deadline_s=deadline_s,
        interval_s=poll_interval_s,
        clock=clock,
        sleep=sleep,
        sample={**sample, "field": field},
        on_progress=on_progress,
    )
    return evaluate_logs(observation, expected, id_kind)
