"""The words every part of a run shares: the load's requests, the faults' windows, the SLO
bounds, the alerts a fault must raise, the exit codes and the clock.

The Locust side (``scenarios/``), the judges (``assertions/``) and the runner (``chaosgate/``)
each speak of these; defined here once, each side imports them from here rather than from
another side (the judges never import Locust through ``scenarios/``). Standard library only, so
that importing the vocabulary costs nothing and drags in no client.

- :class:`LedgerEntry`: one request the load sent, as the request ledger records it (written
  by ``scenarios.ledger``, read by :mod:`chaosgate.request_ledger`).
- :class:`FaultWindow`: when one fault was in force, and the one rule of "is this moment inside
  a fault" (:meth:`FaultWindow.contains`, :func:`in_fault`).
- :class:`SloBounds`: the upper bounds one side of a run (inside or outside the fault windows)
  is judged by. A profile holds two of them (its steady-state and its in-fault bounds), not a
  type of its own: they are the same concept, two sets of the same two figures, and a side or
  a figure left at None is not judged.
- :class:`ExpectedAlert`: an alert a fault must raise, as an experiment's extension declares it
  and as the alert checks judge it (one type for both: the same four fields).
- the exit codes of every command, and :data:`Clock`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TypeAlias

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGTERM",
    "EXIT_UNHEALTHY",
    "Clock",
    "ExpectedAlert",
    "FaultWindow",
    "LedgerEntry",
    "SloBounds",
    "in_fault",
]

# --- exit codes --------------------------------------------------------------------------------

EXIT_OK = 0  # the run passed (or the command did what it was asked)
EXIT_FAILED = 1  # a check failed or errored, or the command could not do it
EXIT_BAD_INPUT = 2  # a bad option, file or value: nothing was run
EXIT_UNHEALTHY = 3  # the target was not healthy enough to test: the warm-up failed
EXIT_SIGINT = 130  # interrupted by SIGINT (128 + its number), every fault undone
EXIT_SIGTERM = 143  # interrupted by SIGTERM (128 + its number)

# --- the clock ---------------------------------------------------------------------------------

Clock: TypeAlias = Callable[[], float]
"""Seconds now: ``time.time`` where the moment is stamped or compared with other machines'
(Unix time), ``time.monotonic`` where only durations count. Passed in, so tests use a fake."""


# --- the request ledger ------------------------------------------------------------------------


# the fields a ledger repeats from line to line: read back as one shared string each
_REPEATED_FIELDS = ("scenario", "method", "route", "error", "user")


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One request the load sent: enough to find its trace and log lines again and to judge
    it for the SLOs. One JSON object a line in the ledger (:meth:`to_json`).

    Slots and shared strings for the repeated fields keep a million entries read back at
    about 450 bytes each instead of 1,300 (``bench/million_ledger.py``)."""

    trace_id: str  # 32 lowercase hex, from the traceparent the request carried
    span_id: str  # 16 lowercase hex, the parent span id in that traceparent
    request_id: str  # the X-Request-ID the request carried
    scenario: str  # the Locust user class, e.g. "Customer"
    method: str
    route: str  # the route template, e.g. "/api/orders/{id}"
    status: int  # HTTP status; 0 when no response arrived (connection error, timeout)
    started_at: float  # unix time the request was sent
    latency_s: float
    error: str = ""  # transport error, empty when a response arrived
    # the simulated user that sent it, "<scenario>/<worker>/<n>" (its n-th of that class in
    # that Locust process): with a seed, the same user makes the same choices in every run
    user: str = ""

    @property
    def ended_at(self) -> float:
        """Unix time the response (or the transport error) arrived."""
        return self.started_at + self.latency_s

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> LedgerEntry:
        """The entry of one ledger line; ValueError or TypeError when it is not one."""
        fields = json.loads(line)
        if not isinstance(fields, dict):
            raise TypeError(f"a ledger line is a JSON object, not {type(fields).__name__}")
        for name in _REPEATED_FIELDS:
            value = fields.get(name)
            if type(value) is str:
                fields[name] = sys.intern(value)
        return cls(**fields)


# --- fault windows -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FaultWindow:
    """When one fault was in force: from its inject (the first action of the experiment's
    method) to its rollback (the end of the rollbacks, or the end of the load when they were
    never played), named after its experiment (the file's stem).

    The one rule of "inside a fault", for every check: a moment is inside when it lies in the
    *closed* interval ``[start - grace_s, end + grace_s]``. Closed at both ends: the moment of
    the rollback still belongs to the fault (the rollback has only just finished undoing it).
    The checks once disagreed at the end: the SLO split took ``[start, end)``, the ingest lag,
    the completeness split and the alert quality the closed interval; the closed one was kept,
    so a request sent at the very moment of a rollback is now judged with the in-fault bounds.
    """

    start: float  # inject time, unix seconds
    end: float  # rollback time (or the end of the fault's effect)
    name: str = ""

    def contains(self, moment: float, *, grace_s: float = 0.0) -> bool:
        """Whether ``moment`` is inside, the window widened by ``grace_s`` on each side."""
        return self.start - grace_s <= moment <= self.end + grace_s

    def touches(self, first: float, last: float, *, grace_s: float = 0.0) -> bool:
        """Whether some moment of ``[first, last]`` (a request, from its start to its end) is
        inside: the same rule as :meth:`contains`, at the span's earliest candidate moment."""
        moment = max(first, self.start - grace_s)
        return moment <= last and self.contains(moment, grace_s=grace_s)


def in_fault(moment: float, windows: Sequence[FaultWindow], *, grace_s: float = 0.0) -> bool:
    """Whether ``moment`` is inside any of ``windows`` (:meth:`FaultWindow.contains`)."""
    return any(window.contains(moment, grace_s=grace_s) for window in windows)


# --- SLO bounds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SloBounds:
    """Upper bounds the requests of one side (inside or outside the fault windows) must keep;
    None leaves that figure unjudged."""

    max_error_ratio: float | None = None
    max_p95_s: float | None = None


# --- expected alerts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedAlert:
    """An alert a fault must raise: its name, labels it must carry, and its deadline (seconds
    from the inject)."""

    alertname: str
    labels: Mapping[str, str] = field(default_factory=dict)
    deadline_s: float = 30.0
    # label name -> regular expression the whole value must match (Alertmanager's =~), for
    # labels whose exact value the experiment cannot know (a mount point under a temp dir)
    label_patterns: Mapping[str, str] = field(default_factory=dict)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return (
            labels.get("alertname") == self.alertname
            and all(labels.get(name) == value for name, value in self.labels.items())
            and all(
                re.fullmatch(pattern, labels.get(name, "")) is not None
                for name, pattern in self.label_patterns.items()
            )
        )

    @property
    def title(self) -> str:
        """``Name`` or ``Name{a=b,c=~d}``: unique per expectation in result names."""
        pairs = [f"{name}={value}" for name, value in sorted(self.labels.items())]
        pairs += [f"{name}=~{value}" for name, value in sorted(self.label_patterns.items())]
        if not pairs:
            return self.alertname
        return f"{self.alertname}{{{','.join(pairs)}}}"
