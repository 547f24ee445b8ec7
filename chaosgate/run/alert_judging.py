"""Judging a run's alerting: each expected alert per routed receiver, and the run-level checks.

What Alertmanager and Prometheus actually run is read once, before the load
(:func:`read_alerting`): Alertmanager's loaded configuration (so each expected alert's
``.notified.<integration>`` checks follow the route tree that really decides, not a copy of
it) and Prometheus' loaded alerting rules (their static labels, ``severity`` above all, decide
the route; ``alerts.coverage`` compares them with what the run proved). A backend that cannot
be read becomes error results, never a pass.

Per experiment: :func:`experiment_checks` (``chaos.<name>`` and, per expected alert,
``alert.<title>.fired``, ``.notified.<integration>``, ``.resolved``). Per run:
:func:`run_alert_checks` (``alerts.noise``, ``alerts.inhibition`` when an experiment declares
inhibitions, ``alerts.grouping``, ``alerts.dedup``, ``alerts.quality``, ``alerts.coverage``).
Integrations the target's sink cannot read (``sink.receivers``) are judged from
Alertmanager's own ``alertmanager_notifications_total`` / ``_failed_total`` counters, which
its Prometheus scrapes.

Whatever a backend does in the check phase (refuses, hangs, answers 5xx or garbage), a check
that needs it is an error naming it, never a pass; a judgement that raises anyway becomes an
error result (:func:`~chaosgate.run.judging.judged`), so the run still writes its reports.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assertions.backends.errors import BackendError
from assertions.backends.prometheus import AlertRule, PrometheusBackend
from assertions.backends.sink import Notification
from assertions.checks.alert_coverage import evaluate_coverage, rule_outcomes
from assertions.checks.alert_dedup import evaluate_dedup
from assertions.checks.alert_grouping import evaluate_grouping
from assertions.checks.alert_inhibition import ExpectedInhibition, evaluate_inhibition
from assertions.checks.alert_quality import QualityExpectation, evaluate_quality
from assertions.checks.alert_routing import RoutingConfigError, route_for, routed_integrations
from assertions.checks.alert_watcher import AlertObservations, AlertWatcher
from assertions.checks.alerts import check_expected_alert, evaluate_noise
from assertions.checks.warmup import WarmupBackends
from assertions.result import CheckResult, Status
from chaosgate.run.chaos_phase import ExperimentRun
from chaosgate.run.judging import judged
from chaosgate.run.profiles import Profile
from chaosgate.vocabulary import ExpectedAlert, FaultWindow

__all__ = [
    "AlertingSetup",
    "alerting_figures",
    "experiment_checks",
    "read_alerting",
    "run_alert_checks",
]

Counters = Callable[[str, float, float], tuple[float, float] | None]


@dataclass(frozen=True)
class AlertingSetup:
    """Alertmanager's loaded configuration and Prometheus' loaded alerting rules."""

    config: Mapping[str, Any] | None
    rules: tuple[AlertRule, ...] | None
    config_error: str = ""
    rules_error: str = ""

    def rule_labels(self, alertname: str) -> dict[str, str]:
        for rule in self.rules or ():
            if rule.name == alertname:
                return dict(rule.labels)
        return {}

    def labels_of(self, expected: ExpectedAlert) -> dict[str, str]:
        """The labels Alertmanager routes the alert by: the rule's, the expectation's."""
        return {
            **self.rule_labels(expected.alertname),
            **expected.labels,
            "alertname": expected.alertname,
        }


def read_alerting(backends: WarmupBackends) -> AlertingSetup:
    config: Mapping[str, Any] | None = None
    rules: tuple[AlertRule, ...] | None = None
    config_error = rules_error = ""
    try:
        config = backends.alertmanager.config()
        route_for(config, {})  # a tree the checks cannot walk is an error now, not later
    except (BackendError, RoutingConfigError) as exc:
        config, config_error = None, f"alertmanager's configuration could not be read: {exc}"
    try:
        rules = tuple(backends.prometheus.rules())
    except BackendError as exc:
        rules_error = f"prometheus' alerting rules could not be read: {exc}"
    return AlertingSetup(config, rules, config_error, rules_error)


def _increase(prometheus: PrometheusBackend, metric: str, start: float, end: float) -> float:
    window = max(1, math.ceil(end - start))
    samples = prometheus.instant(f"sum(increase({metric}[{window}s]))", at=end)
    return sum(s.value for s in samples if math.isfinite(s.value))


def alertmanager_counters(prometheus: PrometheusBackend) -> Counters:
    """Sent and failed notifications of one integration between two moments, from the
    Alertmanager counters Prometheus scrapes (a BackendError means: unknown)."""

    def counters(integration: str, start: float, end: float) -> tuple[float, float]:
        selector = f'{{integration="{integration}"}}'
        return (
            _increase(prometheus, f"alertmanager_notifications_total{selector}", start, end),
            _increase(prometheus, f"alertmanager_notifications_failed_total{selector}", start, end),
        )

    return counters


def experiment_checks(
    run: ExperimentRun,
    watcher: AlertWatcher,
    backends: WarmupBackends,
    setup: AlertingSetup,
    readable: Collection[str],
) -> list[CheckResult]:
    name = f"chaos.{run.path.stem}"
    completed = run.status == "completed" and run.inject_at is not None
    reason = run.error or ("" if run.status == "completed" else f"experiment ended {run.status}")
    if run.failed:
        reason = "; ".join(filter(None, [reason, *(f"{item} failed" for item in run.failed)]))
    ran = CheckResult(
        name,
        Status.PASSED if completed and not run.failed else Status.ERROR,
        "completed, fault injected, no action or rollback failed",
        {
            "status": run.status,
            "inject_at": run.inject_at,
            "rollback_at": run.rollback_at,
            "failed_activities": list(run.failed),
        },
        reason=reason,
        evidence={"journal": str(run.journal_path)},
    )
    if run.inject_at is None:
        return [ran]
    checks = [ran]
    counters = alertmanager_counters(backends.prometheus)
    inject_at = run.inject_at
    for expected in run.expected:
        labels = setup.labels_of(expected)
        routed: tuple[str, ...] = ()
        group_by: Sequence[str] | None = None
        config_error = setup.config_error
        if setup.config is not None:
            try:
                routed = routed_integrations(setup.config, labels)
                group_by = route_for(setup.config, labels).group_by
            except RoutingConfigError as exc:
                config_error = f"alertmanager's route tree cannot route {labels}: {exc}"

        def judge(
            expected: ExpectedAlert = expected,
            routed: tuple[str, ...] = routed,
            group_by: Sequence[str] | None = group_by,
        ) -> list[CheckResult]:
            return check_expected_alert(
                watcher,
                expected,
                backend=backends.sink,
                inject_at=inject_at,
                rollback_at=run.rollback_at,
                resolve_deadline_s=run.resolve_deadline_s,
                routed=routed,
                readable=tuple(readable),
                counters=counters,
                group_by=group_by,
            )

        results = judged([f"alert.{expected.title}.fired"], judge)
        if config_error:
            results = [
                dataclasses.replace(r, status=Status.ERROR, reason=config_error)
                if r.name == f"alert.{expected.title}.notified"
                else r
                for r in results
            ]
        checks += results
    return checks


def _sink_error(name: str, error: str) -> CheckResult:
    return CheckResult(name, Status.ERROR, None, None, reason=error)


def run_alert_checks(
    runs: Sequence[ExperimentRun],
    checks: Sequence[CheckResult],
    watcher: AlertWatcher,
    backends: WarmupBackends,
    setup: AlertingSetup,
    profile: Profile,
    windows: Sequence[FaultWindow],
    run_window: tuple[float, float],
) -> list[CheckResult]:
    """The run-level alerting checks, over everything the watcher and the receivers saw."""
    observations = watcher.observations()
    start, end = run_window
    notifications: list[Notification] = []
    sink_error = ""
    try:
        notifications = [
            n for n in backends.sink.notifications() if start <= n.received_at_unix <= end
        ]
    except BackendError as exc:
        sink_error = str(exc)
    expected_all = [alert for run in runs for alert in run.expected]
    inhibited_all = [alert for run in runs for alert, _source in run.inhibited]
    results = judged(
        ["alerts.noise"],
        lambda: [
            evaluate_noise(
                observations,
                [*expected_all, *inhibited_all],
                run_window,
                notifications=None if sink_error else notifications,
                sink_error=sink_error,
            )
        ],
    )
    inhibitions = [
        ExpectedInhibition(alert, source, run.inject_at, run.rollback_at or end)
        for run in runs
        if run.inject_at is not None
        for alert, source in run.inhibited
    ]
    if inhibitions:
        results += judged(
            ["alerts.inhibition"],
            lambda: [
                evaluate_inhibition(observations, inhibitions, notifications, sink_error=sink_error)
            ],
        )
    results += judged(
        ["alerts.grouping", "alerts.dedup"],
        lambda: _delivery_shape_checks(
            backends, setup, notifications, sink_error, run_window, observations
        ),
    )
    results += judged(
        ["alerts.quality"], lambda: [_quality(runs, checks, observations, windows, profile)]
    )
    results += judged(["alerts.coverage"], lambda: [_coverage(runs, checks, setup, profile)])
    return results


def _delivery_shape_checks(
    backends: WarmupBackends,
    setup: AlertingSetup,
    notifications: Sequence[Notification],
    sink_error: str,
    run_window: tuple[float, float],
    observations: AlertObservations,
) -> list[CheckResult]:
    """``alerts.grouping`` and ``alerts.dedup`` under the root route's grouping and timing."""
    if setup.config is None:
        return [
            _sink_error("alerts.grouping", setup.config_error),
            _sink_error("alerts.dedup", setup.config_error),
        ]
    if sink_error:
        return [_sink_error("alerts.grouping", sink_error), _sink_error("alerts.dedup", sink_error)]
    root = route_for(setup.config, {})
    start, end = run_window
    received = sent = None
    counters_error = ""
    try:
        received = _increase(backends.prometheus, "alertmanager_alerts_received_total", start, end)
        sent = _increase(backends.prometheus, "alertmanager_notifications_total", start, end)
    except BackendError as exc:
        counters_error = str(exc)
    return [
        evaluate_grouping(
            notifications,
            root.group_by,
            root.group_wait_s,
            observations=observations,
            window=run_window,
        ),
        evaluate_dedup(
            notifications,
            root.repeat_interval_s,
            received,
            sent,
            counters_error=counters_error,
            observations=observations,
        ),
    ]


def _quality(
    runs: Sequence[ExperimentRun],
    checks: Sequence[CheckResult],
    observations: AlertObservations,
    windows: Sequence[FaultWindow],
    profile: Profile,
) -> CheckResult:
    passed = {check.name for check in checks if check.passed}
    errored = {check.name for check in checks if check.status is Status.ERROR}
    expectations = [
        QualityExpectation(
            run.path.stem,
            alert,
            fired_in_time=f"alert.{alert.title}.fired" in passed,
            unobserved=f"alert.{alert.title}.fired" in errored,
        )
        for run in runs
        if run.inject_at is not None
        for alert in run.expected
    ] + [
        QualityExpectation(run.path.stem, alert, inhibited=True)
        for run in runs
        if run.inject_at is not None
        for alert, _source in run.inhibited
    ]
    return evaluate_quality(
        observations,
        expectations,
        windows,
        min_recall=profile.min_alert_recall,
        min_precision=profile.min_alert_precision,
    )


def _coverage(
    runs: Sequence[ExperimentRun],
    checks: Sequence[CheckResult],
    setup: AlertingSetup,
    profile: Profile,
) -> CheckResult:
    named: dict[str, list[str]] = {}
    for run in runs:
        names = [a.alertname for a in run.expected] + [a.alertname for a, _ in run.inhibited]
        for alertname in dict.fromkeys(names):
            named.setdefault(alertname, []).append(run.path.stem)
    expectations = [alert for run in runs if run.inject_at is not None for alert in run.expected]
    return evaluate_coverage(
        setup.rules,
        named,
        rule_outcomes(checks, expectations),
        profile.alert_coverage,
        rules_error=setup.rules_error,
    )


def _percent(value: Any) -> str:
    return f"{value * 100:.1f} %" if isinstance(value, int | float) else "unknown"


def alerting_figures(results: Sequence[CheckResult]) -> list[str]:
    """The run's alert quality and de-duplication figures, for the terminal."""
    by_name = {result.name: result for result in results}
    lines = []
    quality = by_name.get("alerts.quality")
    if quality is not None and isinstance(quality.observed, dict):
        seen = quality.observed
        lines.append(
            f"alert quality: recall {_percent(seen.get('recall'))} "
            f"({seen.get('fired_in_time')}/{seen.get('expected')} expected alerts in time), "
            f"precision {_percent(seen.get('precision'))} ({seen.get('named_episodes')}/"
            f"{seen.get('episodes_in_windows')} alerts in fault windows were expected)"
        )
    dedup = by_name.get("alerts.dedup")
    if dedup is not None and isinstance(dedup.observed, dict):
        seen = dedup.observed
        received, sent = seen.get("received_total"), seen.get("sent_total")
        counts = (
            f"{received:.0f} alerts received, {sent:.0f} notifications sent"
            if isinstance(received, int | float) and isinstance(sent, int | float)
            else "counters unknown"
        )
        lines.append(
            f"de-duplication: {_percent(seen.get('reduction'))} fewer notifications than "
            f"alerts Alertmanager received ({counts}); {seen.get('duplicates')} duplicate(s)"
        )
    return lines
