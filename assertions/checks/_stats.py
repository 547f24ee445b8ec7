"""Small statistics shared by the checks: percentiles and Prometheus-style histogram quantiles."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["histogram_quantile", "percentile", "summary"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) with linear interpolation between ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: Iterable[float]) -> dict[str, float | None]:
    """p50, p95 and max of ``values`` rounded to milliseconds (None when there are none)."""
    items = list(values)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "p50": rounded(percentile(items, 0.5)),
        "p95": rounded(percentile(items, 0.95)),
        "max": rounded(max(items) if items else None),
    }


def histogram_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile`` over cumulative bucket counts keyed by upper bound.

    Linear interpolation inside the bucket holding the rank; a rank in the ``+Inf`` bucket
    gives the highest finite bound. None when there are no observations.
    """
    bounds = sorted(buckets)
    if not bounds or not math.isinf(bounds[-1]):
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    previous_bound, previous_count = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return previous_bound if len(bounds) > 1 else None
            if count == previous_count:
                return bound
            return previous_bound + (bound - previous_bound) * (rank - previous_count) / (
                count - previous_count
            )
        previous_bound, previous_count = bound, count
    return previous_bound
