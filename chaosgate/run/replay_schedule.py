"""Playing a recorded fault at its recorded moment: waiting for an experiment's start, and
holding its method back until its first action begins at the recorded inject offset.

A run's inject moment is when the method's first action starts (``TimelineHandler`` stamps
it in ``start_activity``). chaoslib calls its event handlers synchronously, in the order they
were registered, on the thread that runs the method, and ``execute_activity`` runs
``pauses.before``, then the ``start_activity`` handlers, then the action. chaosgate's
``run_experiment`` registers the timeline's handler first, so a handler of ours that slept in
``start_activity`` would come too late: the inject would already be stamped (and chaoslib's
journal would give the action that start too). :class:`InjectAlignment` therefore waits at the
last hook *before* the first action: ``start_method`` when nothing but background activities
comes before it in the method, else the completion of the foreground activity just before
it, less the pauses chaoslib still plays in between (that activity's ``pauses.after`` and the
action's ``pauses.before``, when they are numbers). The method then goes on, and the action
starts at the recorded moment, give or take the time chaoslib takes to get from one to the
other (milliseconds).

If the experiment reaches that hook after the moment (its steady state took longer than in
the recorded run, or the previous experiment overran), nothing waits and the inject is late:
:attr:`InjectAlignment.late_s` says by how much, and the run says so on its progress.

A signal during a wait raises from the sleep (``RunInterrupted`` is a ``KeyboardInterrupt``,
which chaoslib's handler registry does not swallow), so the experiment ends through its
rollbacks as it would anywhere else in its method.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from chaoslib.run import RunEventHandler

from chaosgate.vocabulary import Clock

__all__ = ["InjectAlignment", "Sleep", "first_action_hook", "wait_until"]

Sleep = Callable[[float], None]
WAIT_TICK_S = 0.5  # how often a wait asks whether to go on waiting


def wait_until(
    moment: float,
    *,
    clock: Clock = time.time,
    sleep: Sleep = time.sleep,
    keep_waiting: Callable[[], bool] = lambda: True,
    tick_s: float = WAIT_TICK_S,
) -> bool:
    """Sleep until ``clock()`` reaches ``moment`` (unix seconds); False as soon as
    ``keep_waiting()`` turns false first (the load ended). True at once for a moment past."""
    while True:
        left = moment - clock()
        if left <= 0:
            return True
        if not keep_waiting():
            return False
        sleep(min(tick_s, left))


def _number(value: Any) -> float:
    """A pause as chaoslib takes it; 0 for what is no plain number (a ``${var}`` pattern)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return max(0.0, float(value))


def _pause(activity: Mapping[str, Any], which: str) -> float:
    pauses = activity.get("pauses")
    return _number(pauses.get(which)) if isinstance(pauses, Mapping) else 0.0


def _resolved(item: Any, experiment: Mapping[str, Any]) -> Mapping[str, Any]:
    """A method item with its ``ref`` looked up among the experiment's activities by name, as
    chaoslib does; an item that is no activity is an empty mapping."""
    if not isinstance(item, Mapping):
        return {}
    ref = item.get("ref")
    if not isinstance(ref, str):
        return item
    hypothesis = experiment.get("steady-state-hypothesis")
    probes = hypothesis.get("probes", []) if isinstance(hypothesis, Mapping) else []
    for candidate in [*probes, *experiment.get("method", []), *experiment.get("rollbacks", [])]:
        if isinstance(candidate, Mapping) and candidate.get("name") == ref:
            return candidate
    return {}


def first_action_hook(experiment: Mapping[str, Any]) -> tuple[str | None, float] | None:
    """Where to wait for the method's first action: ``(None, lead)`` for ``start_method``, or
    ``(name, lead)`` for the completion of the foreground method activity named ``name``;
    ``lead`` is the seconds chaoslib still pauses between that hook and the action's start.
    None when the method has no action (nothing to align)."""
    method = experiment.get("method")
    items: Sequence[Any] = method if isinstance(method, list) else []
    activities = [_resolved(item, experiment) for item in items]
    first = next((at for at, a in enumerate(activities) if a.get("type") == "action"), None)
    if first is None:
        return None
    lead = _pause(activities[first], "before")
    before = [a for a in activities[:first] if not a.get("background")]
    if not before:
        return None, lead
    previous = before[-1]
    return str(previous.get("name", "")), lead + _pause(previous, "after")


class InjectAlignment(RunEventHandler):  # type: ignore[misc]  # chaoslib has no type hints
    """A chaoslib event handler that holds one experiment run's method back so that its
    first action starts at ``inject_at`` (unix seconds, as ``clock`` tells time).

    Register it for one run of one experiment. ``waited_s`` is how long it held the method,
    ``late_s`` by how much the hook came after the moment it had to wait for (None until the
    hook is reached; 0.0 when it was in time)."""

    def __init__(
        self, inject_at: float, *, clock: Clock = time.time, sleep: Sleep = time.sleep
    ) -> None:
        self.inject_at = inject_at
        self.waited_s = 0.0
        self.late_s: float | None = None
        self._clock = clock
        self._sleep = sleep
        self._hook: tuple[str | None, float] | None = None
        self._in_method = False
        self._lock = threading.Lock()  # background activities complete on other threads

    def _hold(self, lead_s: float) -> None:
        with self._lock:
            if self.late_s is not None:  # once per run: the first action only
                return
            moment = self.inject_at - lead_s
            started = self._clock()
            self.late_s = max(0.0, started - moment)
        wait_until(moment, clock=self._clock, sleep=self._sleep)
        self.waited_s = max(0.0, self._clock() - started)

    # --- chaoslib's hooks --------------------------------------------------------------------

    def start_method(self, experiment: dict[str, Any]) -> None:
        self._in_method = True
        self._hook = first_action_hook(experiment)
        if self._hook is not None and self._hook[0] is None:
            self._hold(self._hook[1])

    def activity_completed(self, activity: dict[str, Any], run: dict[str, Any]) -> None:
        hook = self._hook
        if not self._in_method or hook is None or hook[0] is None:
            return
        if activity.get("background") or activity.get("name") != hook[0]:
            return
        self._hold(hook[1])

    def method_completed(self, experiment: dict[str, Any], state: Any = None) -> None:
        self._in_method = False
