"""Were the requests of the ledger found in a backend in time? Shared by traces and logs.

The ledger says which ids to look for (all of them, or a seeded sample); polling asks the
backend for the ids not yet found, in batches, until every counted one (below) is found or the
deadline passes, and stamps each id with the time polling first saw it complete.
:func:`evaluate_completeness` then judges that observation without any I/O.

Which requests count. A request that got a response (any status) went through the gateway, so
its trace and log lines must exist: it counts in the completeness ratio. A request with status
0 got no response: it may never have reached the gateway (connection refused while the gateway
was down), so it is looked for and reported (``unanswered`` in ``observed``) but does not count,
unless ``count_unanswered`` is set. Otherwise a strict gate (ratio 1.0) would fail on every
fault that makes the gateway refuse connections, although nothing was lost.

Which services must appear. The gateway always; the service behind the route (by prefix) too,
unless the request got no response or a 5xx, which the gateway may have produced itself (its
upstream down or timing out) without the upstream ever seeing the request.

The deadline counts from the start of polling, which is meant to start when the load stops.
The ingest lag (first seen by polling minus the request's end) is therefore an upper bound:
for requests that ended before polling started it includes the wait until the first poll.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from assertions.backends.errors import BackendError
from assertions.checks._stats import summary
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import Clock, LedgerEntry

__all__ = [
    "DEFAULT_DOWNSTREAM_BY_PREFIX",
    "GATEWAY_SERVICE",
    "MAX_LISTED_IDS",
    "CompletenessExpected",
    "CompletenessObservation",
    "Expectation",
    "FoundCallback",
    "evaluate_completeness",
    "expectations_from_ledger",
    "expected_services",
    "poll_for_ids",
    "sample_entries",
]

GATEWAY_SERVICE = "gateway"
DEFAULT_DOWNSTREAM_BY_PREFIX: Mapping[str, str] = {
    "/api/orders": "orders",
    "/api/menu": "orders",
    "/api/users": "users",
    "/api/iot": "iot",
}
MAX_LISTED_IDS = 20
_MAX_LISTED_ERRORS = 5

Lookup = Callable[[list[str]], Mapping[str, frozenset[str]]]
"""Ask the backend for a batch of ids: found id -> services seen for it."""

FoundCallback = Callable[[int, int], None]
"""Told how polling goes: (counted ids found so far, counted ids), for a live display."""


@dataclass(frozen=True, slots=True)
class Expectation:
    key: str  # the id looked up: a trace id or a request id
    request_end_unix: float  # started_at + latency_s
    services: frozenset[str]  # must all appear for the id to count as found (empty: any)
    counted: bool  # counts in the ratio (False: the request got no response)


@dataclass(frozen=True)
class CompletenessObservation:
    expectations: tuple[Expectation, ...]
    found_at: Mapping[str, float]  # key -> unix time polling first saw it with every service
    seen_services: Mapping[str, frozenset[str]]  # key -> services seen last (found or not)
    polling_started_at: float
    polling_ended_at: float
    attempts: int  # backend requests made
    errors: tuple[str, ...] = ()  # BackendError messages, oldest first
    last_round_failed: bool = False  # the final poll round had a backend error
    sample: Mapping[str, Any] = field(default_factory=dict)  # how the ids were chosen


@dataclass(frozen=True)
class CompletenessExpected:
    threshold: float = 1.0  # pass when found / counted >= threshold
    deadline_s: float = 30.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(
                f"completeness threshold {self.threshold!r} is out of range; give a ratio "
                "above 0 and at most 1 (1.0 for a strict gate)"
            )


def expected_services(
    entry: LedgerEntry,
    *,
    gateway: str = GATEWAY_SERVICE,
    downstream_by_prefix: Mapping[str, str] = DEFAULT_DOWNSTREAM_BY_PREFIX,
) -> frozenset[str]:
    """The services whose spans (or log lines) the request must have left."""
    if entry.status == 0 or entry.status >= 500:
        return frozenset({gateway})
    for prefix, service in downstream_by_prefix.items():
        if entry.route == prefix or entry.route.startswith(prefix.rstrip("/") + "/"):
            return frozenset({gateway, service})
    return frozenset({gateway})


def sample_entries(
    entries: Sequence[LedgerEntry], sample_size: int | None, seed: int
) -> tuple[list[LedgerEntry], dict[str, Any]]:
    """All entries, or ``sample_size`` of them chosen with ``seed``; and how they were chosen."""
    if sample_size is not None and sample_size < 1:
        raise ValueError(f"sample_size {sample_size!r} is not positive; give at least 1 or None")
    if sample_size is None or sample_size >= len(entries):
        return list(entries), {"population": len(entries), "sample_size": len(entries)}
    chosen = random.Random(seed).sample(range(len(entries)), sample_size)
    picked = [entries[index] for index in sorted(chosen)]
    return picked, {"population": len(entries), "sample_size": sample_size, "seed": seed}


def expectations_from_ledger(
    entries: Sequence[LedgerEntry],
    *,
    key: Callable[[LedgerEntry], str],
    with_services: bool = True,
    count_unanswered: bool = False,
    gateway: str = GATEWAY_SERVICE,
    downstream_by_prefix: Mapping[str, str] = DEFAULT_DOWNSTREAM_BY_PREFIX,
) -> tuple[Expectation, ...]:
    """One expectation per distinct key (the first entry carrying it wins)."""
    result: dict[str, Expectation] = {}
    # the services depend only on the route and whether the request failed: one shared set
    # for each pair (a million entries would otherwise make a million equal sets)
    services_by_kind: dict[tuple[str, bool], frozenset[str]] = {}
    for entry in entries:
        name = key(entry)
        if name in result:
            continue
        services: frozenset[str] = frozenset()
        if with_services:
            kind = (entry.route, entry.status == 0 or entry.status >= 500)
            known = services_by_kind.get(kind)
            if known is None:
                known = services_by_kind[kind] = expected_services(
                    entry, gateway=gateway, downstream_by_prefix=downstream_by_prefix
                )
            services = known
        result[name] = Expectation(
            key=name,
            request_end_unix=entry.started_at + entry.latency_s,
            services=services,
            counted=entry.status != 0 or count_unanswered,
        )
    return tuple(result.values())


def poll_for_ids(
    expectations: Sequence[Expectation],
    lookup: Lookup,
    *,
    batch_size: int,
    deadline_s: float,
    interval_s: float,
    clock: Clock,
    sleep: Callable[[float], None],
    sample: Mapping[str, Any] | None = None,
    on_progress: FoundCallback | None = None,
) -> CompletenessObservation:
    """Poll ``lookup`` for the ids not yet complete until all are or ``deadline_s`` passes.

    Only the counted ids keep the polling going: once every one of them is found, the ids of
    requests that got no response (which may never have reached the gateway, and so may never
    appear) are not waited for; each round that runs anyway asks for them too, so
    ``unanswered_found`` counts those seen by then. Waiting the whole deadline for them would
    add the deadline to every run whose faults refuse connections.

    A round asks for every pending id, batch after batch; the first round is finished even
    past the deadline while the backend answers (a big ledger takes a while), but once the
    deadline has passed a failed batch ends the polling, so a hanging backend costs the
    deadline plus one request timeout, not one timeout per batch. Backend errors are
    recorded, never raised: before the deadline the ids of a failed batch are simply asked
    again in the next round.

    ``on_progress``, when given, is called before the first batch and after every batch
    (answered or failed) with the counted ids found so far and the counted ids: a display of
    a long poll (the first round of a big ledger takes many batches). It must not raise.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size {batch_size!r} is not positive; give at least 1")
    started = clock()
    deadline = started + deadline_s
    wanted = {item.key: item.services for item in expectations}
    counted = {item.key for item in expectations if item.counted}
    pending = list(wanted)
    found_at: dict[str, float] = {}
    seen: dict[str, frozenset[str]] = {}
    errors: list[str] = []
    attempts = 0
    counted_found = 0
    last_round_failed = False

    def report() -> None:
        if on_progress is not None:
            on_progress(counted_found, len(counted))

    report()
    while True:
        last_round_failed = False
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            attempts += 1
            try:
                answer = lookup(batch)
            except BackendError as exc:
                errors.append(str(exc))
                last_round_failed = True
                report()
                if clock() >= deadline:
                    break  # the rest of the round is not asked: no answer will come in time
                continue
            now = clock()
            for key, services in answer.items():
                if key not in wanted:
                    continue
                seen[key] = frozenset(services)
                if key not in found_at and wanted[key] <= services:
                    found_at[key] = now
                    if key in counted:
                        counted_found += 1
            report()
        pending = [key for key in pending if key not in found_at]
        remaining = deadline - clock()
        if not any(key in counted for key in pending) or remaining <= 0:
            break
        sleep(min(interval_s, remaining))
    return CompletenessObservation(
        expectations=tuple(expectations),
        found_at=found_at,
        seen_services=seen,
        polling_started_at=started,
        polling_ended_at=clock(),
        attempts=attempts,
        errors=tuple(errors),
        last_round_failed=last_round_failed,
        sample=dict(sample or {}),
    )


def evaluate_completeness(
    name: str, observation: CompletenessObservation, expected: CompletenessExpected
) -> CheckResult:
    """Pass when the counted ids found reach the threshold; error when nothing can be judged."""
    counted = [item for item in observation.expectations if item.counted]
    unanswered = [item for item in observation.expectations if not item.counted]
    found = [item for item in counted if item.key in observation.found_at]
    not_found = [item for item in counted if item.key not in observation.found_at]
    incomplete = [item for item in not_found if item.key in observation.seen_services]
    missing = [item for item in not_found if item.key not in observation.seen_services]
    lags = [observation.found_at[item.key] - item.request_end_unix for item in found]
    lag = summary(lags)
    ratio = len(found) / len(counted) if counted else None
    expected_view = {
        "ratio_at_least": expected.threshold,
        "deadline_s": expected.deadline_s,
    }
    observed = {
        "looked_for": len(counted),
        "found": len(found),
        "ratio": None if ratio is None else round(ratio, 6),
        "missing": len(missing),
        "incomplete": len(incomplete),
        "unanswered": len(unanswered),
        "unanswered_found": sum(1 for item in unanswered if item.key in observation.found_at),
    }
    evidence: dict[str, Any] = {
        "lag_s": lag,
        "missing_ids": [item.key for item in missing[:MAX_LISTED_IDS]],
        "incomplete": {
            item.key: {
                "seen": sorted(observation.seen_services[item.key]),
                "expected": sorted(item.services),
            }
            for item in incomplete[:MAX_LISTED_IDS]
        },
        "polling_started_at": observation.polling_started_at,
        "polling_s": round(observation.polling_ended_at - observation.polling_started_at, 3),
        "lag_note": "upper bound: first seen by polling minus request end",
        **({"sample": dict(observation.sample)} if observation.sample else {}),
        **(
            {"errors": list(observation.errors[-_MAX_LISTED_ERRORS:])} if observation.errors else {}
        ),
    }

    def result(status: Status, reason: str = "") -> CheckResult:
        return CheckResult(
            name=name,
            status=status,
            expected=expected_view,
            observed=observed,
            reason=reason,
            latency_s=lag["p95"],
            attempts=observation.attempts,
            evidence=evidence,
        )

    if not observation.expectations:
        return result(Status.ERROR, "the ledger has no requests: nothing to look for")
    if not counted:
        return result(
            Status.ERROR,
            f"none of the {len(unanswered)} requests got a response: nothing can be judged",
        )
    assert ratio is not None
    if ratio >= expected.threshold:
        return result(Status.PASSED)
    if observation.last_round_failed:
        evidence["backend_failed"] = True
        return result(
            Status.ERROR,
            f"found {len(found)} of {len(counted)} ids, then the backend failed: "
            f"{observation.errors[-1]}",
        )
    return result(
        Status.FAILED,
        f"found {len(found)} of {len(counted)} ids ({ratio:.2%}) within {expected.deadline_s:g} s, "
        f"below {expected.threshold:.2%}: {len(missing)} missing, {len(incomplete)} incomplete",
    )
