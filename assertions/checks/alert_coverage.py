"""``alerts.coverage``: which of Prometheus' alerting rules the run proved (pure).

A rule is *proved* when the run expected its alert and every check of every expectation of it
passed (``alert.<title>.fired``, every ``.notified.*``, ``.resolved``), *exercised* when an
experiment named it (expected or inhibited) without that proof. :func:`rule_outcomes` derives
the outcomes from the run's results by name. The check fails when a required rule is not
proved, when an experiment names an alert no loaded rule raises, or when every loaded rule is
required and Prometheus has none loaded (nothing proved is no coverage). A required rule kept
from proof only by checks that errored (a backend could not be read) makes it an error.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from assertions.backends.prometheus import AlertRule
from assertions.checks.alert_check_names import alert_check_name, parse_alert_check_name
from assertions.result import CheckResult, Status
from chaosgate.vocabulary import ExpectedAlert

__all__ = ["PROVED", "RuleOutcome", "evaluate_coverage", "rule_outcomes"]

PROVED, EXERCISED = "proved", "exercised"


@dataclass(frozen=True)
class RuleOutcome:
    """``proved`` or ``exercised``, and for the latter what kept it from proof."""

    state: str
    unproved: tuple[str, ...] = ()  # "alert.X.fired failed: why", "no alert.X.resolved check"
    unobserved: bool = False  # every check keeping it from proof was an error, none failed


def _problems(title: str, checks: Sequence[CheckResult]) -> tuple[list[str], bool]:
    """What keeps ``title`` from proof, and whether all of it is errors (nothing failed)."""
    named = [(c, parse_alert_check_name(c.name)) for c in checks]
    own = [c for c, name in named if name is not None and name.title == title]
    suffixes = [name.stage for _, name in named if name is not None and name.title == title]
    problems = [
        f"no {alert_check_name(title, suffix)} check"
        for suffix in ("fired", "notified", "resolved")
        if not any(s == suffix or s.startswith(f"{suffix}.") for s in suffixes)
    ]
    only_errors = not problems
    problems += [
        f"{c.name} {c.status.value}" + (f": {c.reason}" if c.reason else "")
        for c in own
        if not c.passed
    ]
    only_errors = only_errors and all(c.status is Status.ERROR for c in own if not c.passed)
    return problems, only_errors


def rule_outcomes(
    checks: Sequence[CheckResult], expectations: Sequence[ExpectedAlert]
) -> dict[str, RuleOutcome]:
    """Per alertname of ``expectations``: proved when every check of every expectation of it
    (found by name, ``alert.<ExpectedAlert.title>.<suffix>``) exists and passed."""
    problems: dict[str, list[str]] = {}
    errors_only: dict[str, bool] = {}
    for title, alertname in dict.fromkeys((e.title, e.alertname) for e in expectations):
        found, only_errors = _problems(title, checks)
        problems.setdefault(alertname, []).extend(found)
        errors_only[alertname] = errors_only.get(alertname, True) and only_errors
    return {
        name: RuleOutcome(EXERCISED, tuple(found), unobserved=errors_only[name])
        if found
        else RuleOutcome(PROVED)
        for name, found in problems.items()
    }


def _state(outcome: RuleOutcome | str | None) -> RuleOutcome | None:
    return RuleOutcome(outcome) if isinstance(outcome, str) else outcome


def evaluate_coverage(
    rules: Sequence[AlertRule] | None,
    named: Mapping[str, Collection[str]],
    outcomes: Mapping[str, RuleOutcome | str],
    required: Literal["all"] | Collection[str],
    *,
    rules_error: str = "",
) -> CheckResult:
    """``alerts.coverage``: ``rules`` as Prometheus loaded them (None, with ``rules_error``,
    when they could not be read); ``named``: alertname → the run's experiments naming it;
    ``outcomes``: :func:`rule_outcomes`; ``required``: "all" loaded rules, or these names."""
    required_view: Any = "all" if required == "all" else sorted(required)
    expected = {"proved": required_view, "every_named_alert_loaded": True}
    if rules is None or rules_error:
        return CheckResult(
            "alerts.coverage",
            Status.ERROR,
            expected,
            None,
            f"prometheus' alerting rules could not be read: {rules_error or 'not given'}",
        )
    loaded = {rule.name: rule for rule in rules}
    states = {name: _state(outcome) for name, outcome in outcomes.items()}
    proved = sorted(n for n, o in states.items() if o is not None and o.state == PROVED)
    must = sorted(loaded) if required == "all" else sorted(set(required))
    problems = [
        f"{name} (expected by {', '.join(sorted(named[name]))}) is not loaded in Prometheus"
        for name in sorted(set(named) - set(loaded))
    ]
    if required == "all" and not loaded:
        problems.append(
            "prometheus reports no alerting rule loaded, so none can be proved; check that "
            "its configuration loads the rule files (rule_files) and that they parse"
        )
    unknown: list[str] = []  # required rules kept from proof only by errors
    for name in must:
        if name in proved:
            continue
        outcome = states.get(name)
        if name not in loaded:
            if name not in named:
                problems.append(f"{name} is required but not loaded in Prometheus")
        elif name not in named:
            problems.append(f"{name} is not named by any experiment of the run")
        else:
            why = "; ".join(outcome.unproved) if outcome and outcome.unproved else "only inhibited"
            line = f"{name} was exercised by {', '.join(sorted(named[name]))} but not proved: {why}"
            (unknown if outcome is not None and outcome.unobserved else problems).append(line)
    observed = {
        "loaded": len(loaded),
        "proved": [n for n in proved if n in loaded],
        "exercised_without_proof": sorted(n for n in named if n in loaded and n not in proved),
        "not_named": sorted(n for n in loaded if n not in named),
        "named_not_loaded": sorted(n for n in named if n not in loaded),
    }
    evidence = {
        "rules": {
            name: {
                "group": rule.group,
                "health": rule.health,
                "experiments": sorted(named.get(name, ())),
                "outcome": (states.get(name) or RuleOutcome("not named")).state,
            }
            for name, rule in sorted(loaded.items())
        },
        "unhealthy": sorted(name for name, rule in loaded.items() if rule.health != "ok"),
    }
    status = Status.FAILED if problems else Status.ERROR if unknown else Status.PASSED
    return CheckResult(
        "alerts.coverage",
        status,
        expected,
        observed,
        "; ".join(problems or unknown),
        attempts=1,
        evidence=evidence,
    )
