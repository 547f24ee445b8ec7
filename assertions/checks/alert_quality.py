"""``alerts.quality``: recall and precision of the alerting over the run's faults (pure).

Recall is the share of expected alerts whose ``alert.<title>.fired`` passed (the caller says
which did, and which could not be observed: a recall that falls short only through those is an
error, not a failure). Precision is the share of alert episodes first seen inside a fault
window (any severity) that an expectation or an expected inhibition of that window names; the
others are the unexpected alerts the faults raised. Windows are taken as given: a caller that
wants the alerts a fault raises after its rollback counted passes windows that end later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assertions.checks._alert_common import MAX_LISTED, episode_view, unwatched
from assertions.checks.alert_watcher import AlertEpisode, AlertObservations
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert, FaultWindow, in_fault

__all__ = ["QualityExpectation", "evaluate_quality"]


@dataclass(frozen=True)
class QualityExpectation:
    """An alert the fault of window ``window`` (its :class:`FaultWindow` name) names.

    ``inhibited``: an expected inhibition, which names episodes for precision but is not
    counted in recall (``alerts.inhibition`` judges it).
    """

    window: str
    alert: ExpectedAlert
    fired_in_time: bool = False  # its alert.<title>.fired passed
    inhibited: bool = False
    unobserved: bool = False  # its alert.<title>.fired was an error: nobody knows whether


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _named(
    episode: AlertEpisode,
    windows: Sequence[FaultWindow],
    expectations: Sequence[QualityExpectation],
) -> bool:
    around = {w.name for w in windows if w.contains(episode.first_seen)}
    return any(e.window in around and e.alert.matches(episode.labels) for e in expectations)


def evaluate_quality(
    observations: AlertObservations,
    expectations: Sequence[QualityExpectation],
    windows: Sequence[FaultWindow],
    *,
    min_recall: float,
    min_precision: float,
    coverage_slack_s: float = 5.0,
) -> CheckResult:
    """``alerts.quality``: failed when recall is below ``min_recall`` or precision below
    ``min_precision``; an error when the watcher did not observe every window (give or take
    ``coverage_slack_s``, :func:`~assertions.checks._alert_common.unwatched`), or when recall
    falls short only through expectations whose firing could not be observed. A ratio with
    nothing to count is None and not judged."""
    counted = [e for e in expectations if not e.inhibited]
    fired = [e for e in counted if e.fired_in_time]
    inside = [ep for ep in observations.episodes if in_fault(ep.first_seen, windows)]
    named = [ep for ep in inside if _named(ep, windows, expectations)]
    unexpected = [ep for ep in inside if ep not in named]
    recall, precision = _ratio(len(fired), len(counted)), _ratio(len(named), len(inside))
    observed: dict[str, Any] = {
        "recall": recall,
        "precision": precision,
        "expected": len(counted),
        "fired_in_time": len(fired),
        "episodes_in_windows": len(inside),
        "named_episodes": len(named),
        "unexpected_alerts": sorted({ep.labels.get("alertname", "?") for ep in unexpected}),
        "missed": [e.alert.title for e in counted if not e.fired_in_time and not e.unobserved],
        "unobserved": [e.alert.title for e in counted if e.unobserved],
    }
    expected = {"min_recall": min_recall, "min_precision": min_precision}
    evidence = {"unexpected": [episode_view(ep) for ep in unexpected[:MAX_LISTED]]}

    def result(status: Status, reason: str = "") -> CheckResult:
        return CheckResult(
            "alerts.quality",
            status,
            expected,
            observed,
            reason,
            attempts=observations.polls,
            evidence=evidence,
        )

    problems, unknown = [], []
    if recall is not None and recall < min_recall:
        best = _ratio(len(fired) + len(observed["unobserved"]), len(counted)) or 0.0
        if best < min_recall:  # short even if every unobserved one fired in time
            problems.append(
                f"recall {recall:g} is below {min_recall:g} (did not fire in time: "
                f"{', '.join(observed['missed'])})"
            )
        else:
            unknown.append(
                f"recall {recall:g} is below {min_recall:g} only through alerts whose firing "
                f"could not be observed ({', '.join(observed['unobserved'])})"
            )
    if precision is not None and precision < min_precision:
        problems.append(
            f"precision {precision:g} is below {min_precision:g} (unexpected in fault windows: "
            f"{', '.join(observed['unexpected_alerts'])})"
        )
    if problems:
        return result(Status.FAILED, "; ".join(problems))
    blind = {
        w.name or f"[{w.start}, {w.end}]": why
        for w in windows
        if (why := unwatched(observations, w.start, w.end, coverage_slack_s))
    }
    if blind:
        name, why = next(iter(blind.items()))
        unknown.append(
            f"the fault window(s) {', '.join(blind)} were not fully observed, so precision "
            f"cannot be judged ({name}: {why})"
        )
    if unknown:
        return result(Status.ERROR, "; ".join(unknown))
    if recall is None and precision is None:
        observed["note"] = "no expected alert and no alert in a fault window: nothing to judge"
    return result(Status.PASSED)
