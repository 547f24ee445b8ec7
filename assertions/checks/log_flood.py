"""``logs.flood``: did a log flood reach the store at the rate the platform claims, and all of it?

The observation is what ``chaosgate.chaos.local_log_flood.flood_logs`` returns (kept in the
experiment's journal): the lines the services say they wrote, how long they wrote, and the
store's count of them over time. Judged:

- **the rate was really driven**: the services wrote at least ``MIN_WRITTEN`` (99 %) of the
  lines the claimed rate needs over the time they wrote (a flood falls short by at most one
  tick of its writer, 50 ms; services that cannot keep up fall far below). Short of it, the
  check fails saying the claim was not tested at its rate;
- **all of it reached the store**: lines found by the deadline (``deadline_s`` after the flood
  ended) ÷ lines written, at least ``min_searchable`` (99.9 %). With the rate driven, this is
  the store keeping up: what it had not indexed by the deadline counts as lost.

Reported with them: lines stored per second of the flood, the store's sustained intake while
the flood ran (the slope of its count from the first poll that found lines to the last poll of
the flood), and when the last line became searchable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assertions.result import CheckResult, Status

__all__ = [
    "CHECK_NAME",
    "MIN_SEARCHABLE",
    "MIN_WRITTEN",
    "evaluate_log_flood",
    "store_intake_per_s",
]

CHECK_NAME = "logs.flood"
MIN_SEARCHABLE = 0.999
MIN_WRITTEN = 0.99


def store_intake_per_s(series: Sequence[Sequence[float]], flood_s: float) -> float | None:
    """The slope of the store's count during the flood (first poll with lines found to the
    last poll before ``flood_s``); None with fewer than two such polls."""
    during = [(t, n) for t, n in series if t <= flood_s and n > 0]
    if len(during) < 2 or during[-1][0] <= during[0][0]:
        return None
    (t0, n0), (t1, n1) = during[0], during[-1]
    return (n1 - n0) / (t1 - t0)


def _number(observation: Mapping[str, Any], key: str) -> float:
    value = observation.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"the flood's observation has no number {key!r}: {value!r}")
    return float(value)


def evaluate_log_flood(
    observation: Mapping[str, Any],
    *,
    claimed_lines_per_s: float,
    min_searchable: float = MIN_SEARCHABLE,
    name: str = CHECK_NAME,
) -> CheckResult:
    expected = {
        "lines_per_s_at_least": claimed_lines_per_s,
        "written_share_at_least": MIN_WRITTEN,
        "searchable_at_least": min_searchable,
    }
    try:
        emitted = _number(observation, "emitted")
        stored = _number(observation, "stored_by_deadline")
        written_s = _number(observation, "written_s")
        deadline_s = _number(observation, "deadline_s")
        duration_s = _number(observation, "duration_s")
    except ValueError as exc:
        return CheckResult(name, Status.ERROR, expected, dict(observation), str(exc))
    series = observation.get("series")
    points = series if isinstance(series, list) else []
    written_rate = emitted / written_s if written_s > 0 else 0.0
    stored_rate = stored / written_s if written_s > 0 else 0.0
    share = stored / emitted if emitted else 0.0
    intake = store_intake_per_s(points, duration_s)
    observed = {
        "written": int(emitted),
        "searchable_by_deadline": int(stored),
        "searchable_share": round(share, 6),
        "lines_per_s_stored": round(stored_rate, 1),
        "lines_per_s_written": round(written_rate, 1),
        "store_intake_per_s": None if intake is None else round(intake, 1),
        "all_searchable_after_s": observation.get("all_stored_after_s"),
    }
    evidence = {
        "deadline_s": deadline_s,
        "written_s": written_s,
        "rates": observation.get("rates"),
        "index": observation.get("index"),
        # cores each part kept busy during the flood and the drain: where it saturates
        "cpu_cores": observation.get("cpu_cores"),
        "polls": len(points),
        "method": "flood_logs: the services' log_lines_per_s switch; _count of the flood's "
        "request ids once a poll",
    }
    reasons = []
    if emitted <= 0:
        reasons.append("the flood wrote no line")
    elif written_rate < MIN_WRITTEN * claimed_lines_per_s:
        reasons.append(
            f"the services wrote {written_rate:,.0f} lines/s, below the claimed "
            f"{claimed_lines_per_s:,.0f}: the claim was not tested at its rate"
        )
    if emitted > 0 and share < min_searchable:
        reasons.append(
            f"{int(emitted - stored):,} of {int(emitted):,} lines ({1 - share:.2%}) not "
            f"searchable {deadline_s:g} s after the flood"
        )
    status = Status.FAILED if reasons else Status.PASSED
    latency = observation.get("all_stored_after_s")
    return CheckResult(
        name,
        status,
        expected,
        observed,
        "; ".join(reasons),
        float(latency) if isinstance(latency, int | float) else None,
        len(points),
        evidence,
    )
