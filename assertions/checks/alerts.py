"""Expected alerts fire within their deadline after a fault, notify, and resolve after rollback.

Judging is pure, over an :class:`~assertions.checks.alert_watcher.AlertObservations` snapshot
and the sink's notifications:

- :func:`evaluate_expected_alert` → ``alert.<title>.fired`` (latency measured two ways: first
  seen by polling, which decides, and Prometheus' ``startsAt``), ``.notified.<integration>``
  for every integration Alertmanager routes it to (:mod:`~assertions.checks.alert_delivery`)
  and, given a rollback time, ``.resolved`` (every episode that was firing after inject
  resolved within the resolve deadline); fired and resolved are judged in
  :mod:`~assertions.checks.alert_lifecycle`.

What an expectation is: :class:`chaosgate.vocabulary.ExpectedAlert`. :func:`evaluate_noise`
(:mod:`~assertions.checks.alert_noise`) is re-exported here for existing callers.

An alert's absence is concluded only from a window the watcher observed without failed polls;
otherwise the result is an error, never a pass. :func:`check_expected_alert` waits for the
deadlines, reading the watcher's snapshot and the sink until every result passes or time is up.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Sequence

from assertions.backends.errors import BackendError
from assertions.backends.sink import INTEGRATIONS, Notification, SinkBackend
from assertions.checks._alert_common import Judge
from assertions.checks.alert_delivery import Counters, evaluate_delivery
from assertions.checks.alert_lifecycle import judge_fired, judge_resolved
from assertions.checks.alert_noise import evaluate_noise
from assertions.checks.alert_watcher import AlertObservations, AlertWatcher
from assertions.result import CheckResult
from chaosgate.vocabulary import Clock, ExpectedAlert

__all__ = [
    "DEFAULT_RESOLVE_DEADLINE_S",
    "DEFAULT_ROUTED",
    "CounterReader",
    "check_expected_alert",
    "evaluate_expected_alert",
    "evaluate_noise",
]

DEFAULT_RESOLVE_DEADLINE_S = 60.0
# the local stack before receivers: every alert to the sink's webhook
DEFAULT_ROUTED: tuple[str, ...] = ("webhook",)
# (integration, start, end) -> increases of Alertmanager's (sent, failed) notification
# counters of that integration over [start, end]; None when they could not be read
CounterReader = Callable[[str, float, float], tuple[float, float] | None]


def evaluate_expected_alert(
    observations: AlertObservations,
    expected: ExpectedAlert,
    inject_at: float,
    rollback_at: float | None,
    sink_notifications: Sequence[Notification],
    *,
    resolve_deadline_s: float = DEFAULT_RESOLVE_DEADLINE_S,
    sink_error: str = "",
    routed: Sequence[str] = DEFAULT_ROUTED,
    readable: Collection[str] = INTEGRATIONS,
    counters: Counters | None = None,
    group_by: Sequence[str] | None = None,
) -> list[CheckResult]:
    """``fired``, one ``notified.<integration>`` per integration in ``routed`` (or one failed
    ``notified`` when it is empty), and ``resolved`` when ``rollback_at`` is given.

    ``sink_error`` is why the sink could not be read (each sink-judged ``notified.*`` is then
    an error); ``readable`` are the integrations the sink records; ``counters`` holds, per
    other integration, Alertmanager's counter increases over [inject, inject + deadline]
    (:mod:`~assertions.checks.alert_delivery`); ``group_by``, the alert's route's, says
    which expected labels a Slack or mail title can show.
    """
    judge = Judge(observations, expected, inject_at)
    results = [
        judge_fired(judge),
        *evaluate_delivery(
            judge,
            sink_notifications,
            routed=routed,
            readable=readable,
            counters=counters,
            sink_error=sink_error,
            group_by=group_by,
        ),
    ]
    if rollback_at is not None:
        results.append(judge_resolved(judge, rollback_at, resolve_deadline_s, sink_notifications))
    return results


def check_expected_alert(
    watcher: AlertWatcher,
    expected: ExpectedAlert,
    *,
    backend: SinkBackend,
    inject_at: float,
    rollback_at: float | None = None,
    deadline_s: float | None = None,
    resolve_deadline_s: float = DEFAULT_RESOLVE_DEADLINE_S,
    routed: Sequence[str] = DEFAULT_ROUTED,
    readable: Collection[str] = INTEGRATIONS,
    counters: CounterReader | None = None,
    group_by: Sequence[str] | None = None,
    poll_interval_s: float = 0.5,
    clock: Clock = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CheckResult]:
    """Wait, at most until every deadline has passed, for the alert to fire, notify, resolve.

    ``watcher`` must be running; ``deadline_s`` overrides the expectation's own. ``routed``
    are the integrations Alertmanager sends the alert to
    (:func:`~assertions.checks.alert_routing.routed_integrations`), ``readable`` those the
    sink records; each other one is judged from ``counters(integration, start, end)``, the
    increases of Alertmanager's sent and failed notification counters over [start, end]
    (None: unknown), asked once per integration when [inject, inject + deadline] is over;
    ``group_by`` is the route's (:attr:`~assertions.checks.alert_routing.Route.group_by`).
    The sink is read once per poll. Returns as soon as every result passes. Never raises for
    a backend failure.
    """
    if deadline_s is not None:
        expected = dataclasses.replace(expected, deadline_s=deadline_s)
    window_end = inject_at + expected.deadline_s
    horizon = window_end
    if rollback_at is not None:
        horizon = max(horizon, rollback_at + resolve_deadline_s)
    unreadable = [item for item in dict.fromkeys(routed) if item not in readable]
    increases: dict[str, tuple[float, float] | None] = {}
    sink_reads = 0
    while True:
        sink_reads += 1
        try:
            notifications = backend.notifications(alertname=expected.alertname)
            sink_error = ""
        except BackendError as exc:
            notifications, sink_error = [], str(exc)
        if counters is not None and clock() >= window_end:
            for integration in unreadable:
                if integration not in increases:
                    try:
                        increases[integration] = counters(integration, inject_at, window_end)
                    except BackendError:
                        increases[integration] = None
        results = evaluate_expected_alert(
            watcher.observations(),
            expected,
            inject_at,
            rollback_at,
            notifications,
            resolve_deadline_s=resolve_deadline_s,
            sink_error=sink_error,
            routed=routed,
            readable=readable,
            counters=None if counters is None else increases,
            group_by=group_by,
        )
        remaining = horizon - clock()
        if all(item.passed for item in results) or remaining < 0:
            return [
                dataclasses.replace(item, attempts=sink_reads)
                if item.evidence.get("judged_from") == "sink"
                else item
                for item in results
            ]
        sleep(min(poll_interval_s, remaining + 0.01))
