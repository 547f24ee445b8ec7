"""The chaos timeline: when each experiment injected its fault and when it rolled back.

``TimelineHandler`` is a ``chaoslib.run.RunEventHandler``: chaoslib calls it as the run
happens, and it stamps each event with an injected clock (``time.time`` by default) onto a
``Timeline``, a thread-safe list of ``TimelineEvent``. The runner writes the events into
summary.json and sums each experiment run up as an :class:`ExperimentSpan` (summary.json's
``fault_window`` records), whose fault is judged as a
:class:`~chaosgate.vocabulary.FaultWindow`:

- inject time = start of the first action of the method;
- rollback time = end of the rollbacks (when they were played).

Kinds: ``experiment-start`` / ``experiment-end`` (one each per run), ``probe`` (hypothesis
probes and probes of the method), ``inject`` (actions of the method), ``rollback`` (each
rollback activity, plus the rollbacks phase itself with an empty activity name). Each activity
has a ``start`` event (status ``running``) and an ``end`` event (chaoslib's run status,
``succeeded`` or ``failed``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from typing import Any, Literal

from chaoslib.run import RunEventHandler

from chaosgate.vocabulary import Clock

__all__ = ["EventKind", "ExperimentSpan", "Timeline", "TimelineEvent", "TimelineHandler"]

EventKind = Literal["experiment-start", "experiment-end", "probe", "inject", "rollback"]
Phase = Literal["start", "end"]


@dataclass(frozen=True)
class TimelineEvent:
    experiment: str  # the experiment's title
    kind: EventKind
    activity: str  # the activity's name ("" for experiment and rollbacks-phase events)
    phase: Phase
    at: float  # unix time, seconds
    status: str  # "running" at a start; the run's / rollbacks' / experiment's status at an end

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExperimentSpan:
    """One experiment run on the timeline: its start, its fault (from its first injected action
    to the end of its rollbacks, either missing when it did not happen), its end and status.
    Not a :class:`~chaosgate.vocabulary.FaultWindow`: it may have no fault at all, and it
    keeps what the report shows (the experiment's own start and end, its status)."""

    experiment: str
    started_at: float
    inject_at: float | None  # None: the method injected nothing (e.g. the hypothesis failed)
    rollback_at: float | None  # None: rollbacks were not played (or not finished)
    ended_at: float | None
    status: str | None  # the experiment's end status ("completed", "deviated", ...)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Timeline:
    """Events of one or more experiment runs, in the order they happened (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[TimelineEvent] = []

    def add(self, event: TimelineEvent) -> None:
        with self._lock:
            self._events.append(event)

    def events(self) -> list[TimelineEvent]:
        with self._lock:
            return list(self._events)

    def as_json(self) -> list[dict[str, Any]]:
        return [event.as_json() for event in self.events()]

    def experiment_spans(self) -> list[ExperimentSpan]:
        """One span per experiment run (each ``experiment-start`` opens one)."""
        spans: list[ExperimentSpan] = []
        current: dict[str, Any] | None = None
        for event in self.events():
            if event.kind == "experiment-start":
                if current is not None:
                    spans.append(ExperimentSpan(**current))
                current = {
                    "experiment": event.experiment,
                    "started_at": event.at,
                    "inject_at": None,
                    "rollback_at": None,
                    "ended_at": None,
                    "status": None,
                }
            elif current is None:
                continue
            elif event.kind == "inject" and event.phase == "start":
                if current["inject_at"] is None:
                    current["inject_at"] = event.at
            elif event.kind == "rollback" and event.activity == "" and event.phase == "end":
                current["rollback_at"] = event.at
            elif event.kind == "experiment-end":
                current["ended_at"] = event.at
                current["status"] = event.status
        if current is not None:
            spans.append(ExperimentSpan(**current))
        return spans

    def span(self, experiment: str) -> ExperimentSpan | None:
        """The latest run's span of the experiment titled ``experiment``."""
        matches = [w for w in self.experiment_spans() if w.experiment == experiment]
        return matches[-1] if matches else None


class TimelineHandler(RunEventHandler):  # type: ignore[misc]  # chaoslib has no type hints
    """Stamps one experiment run's events onto ``timeline`` with ``clock``.

    chaoslib calls ``start_activity`` / ``activity_completed`` from worker threads for
    background activities; the timeline is thread-safe and the phase is only written by
    the run's own thread.
    """

    def __init__(self, timeline: Timeline, *, clock: Clock = time.time) -> None:
        self._timeline = timeline
        self._clock = clock
        self._title = ""
        self._phase: Literal["hypothesis", "method", "rollback"] = "hypothesis"
        # the kind an activity had when it started (a background one may end in another phase)
        self._kinds: dict[int, EventKind] = {}
        self._kinds_lock = threading.Lock()

    def _add(self, kind: EventKind, activity: str, phase: Phase, status: str) -> None:
        self._timeline.add(
            TimelineEvent(
                experiment=self._title,
                kind=kind,
                activity=activity,
                phase=phase,
                at=self._clock(),
                status=status,
            )
        )

    def _kind(self, activity: dict[str, Any]) -> EventKind:
        if self._phase == "rollback":
            return "rollback"
        if self._phase == "method" and activity.get("type") == "action":
            return "inject"
        return "probe"

    # --- chaoslib's hooks --------------------------------------------------------------------

    def started(self, experiment: dict[str, Any], journal: dict[str, Any]) -> None:
        self._title = str(experiment.get("title", ""))
        self._phase = "hypothesis"
        self._add("experiment-start", "", "start", "running")

    def start_method(self, experiment: dict[str, Any]) -> None:
        self._phase = "method"

    def method_completed(self, experiment: dict[str, Any], state: Any = None) -> None:
        self._phase = "hypothesis"

    def start_rollbacks(self, experiment: dict[str, Any]) -> None:
        self._phase = "rollback"
        self._add("rollback", "", "start", "running")

    def rollbacks_completed(self, experiment: dict[str, Any], journal: dict[str, Any]) -> None:
        status = "interrupted" if journal.get("status") == "interrupted" else "completed"
        self._add("rollback", "", "end", status)
        self._phase = "hypothesis"

    def start_activity(self, activity: dict[str, Any]) -> None:
        kind = self._kind(activity)
        with self._kinds_lock:
            self._kinds[id(activity)] = kind
        self._add(kind, str(activity.get("name", "")), "start", "running")

    def activity_completed(self, activity: dict[str, Any], run: dict[str, Any]) -> None:
        with self._kinds_lock:
            kind = self._kinds.pop(id(activity), None)
        status = str(run.get("status", "unknown"))
        self._add(kind or self._kind(activity), str(activity.get("name", "")), "end", status)

    def finish(self, journal: dict[str, Any]) -> None:
        # chaoslib's status, except that a completed run whose hypothesis deviated says so
        status = str(journal.get("status"))
        if status == "completed" and journal.get("deviated"):
            status = "deviated"
        self._add("experiment-end", "", "end", status)
