"""Chaos Toolkit experiment files: load, validate, read their chaosgate extension, run them.

An experiment declares the alerts its fault must raise in its ``extensions`` block, so the
file is self-describing::

    "extensions": [{"name": "chaosgate",
                    "expected_alerts": [{"alertname": "UsersServiceDown",
                                         "labels": {"service": "users"}, "deadline_s": 30}],
                    "resolve_deadline_s": 60}]

A fault the service is built to survive (one pod of a replicated Deployment killed) adds
``"keeps_slo": true``: the runner then judges its fault window with the profile's steady-state
SLO bounds instead of the looser in-fault ones.

``validate_experiment`` reads the file bounded (``experiment_files``), checks every field's JSON
type and the bounds of its numbers (``experiment_schema``), the kind of chaos of each activity
against the target's (``experiment_kinds``), then runs chaoslib's own validation (which imports
each python activity and binds its arguments to the function's signature), the types and sizes
of the arguments (``experiment_arguments``) and that extension; every problem is one
``ExperimentError`` whose message names the file. ``run_experiment`` runs the experiment
through chaoslib with the rollbacks always played, stamping its events onto a ``Timeline``;
``failed_activities`` lists what failed in a journal (chaoslib records a failed rollback
but still calls the run completed).
"""

from __future__ import annotations

import copy
import math
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid
from chaoslib.experiment import run_experiment as chaoslib_run_experiment
from chaoslib.run import RunEventHandler

from chaosgate.chaos.experiment_arguments import check_arguments
from chaosgate.chaos.experiment_errors import ExperimentError
from chaosgate.chaos.experiment_files import read_experiment_file
from chaosgate.chaos.experiment_kinds import check_chaos_kind
from chaosgate.chaos.experiment_schema import MAX_SECONDS, check_structure
from chaosgate.chaos.timeline import Timeline, TimelineHandler
from chaosgate.target_values import ChaosKind
from chaosgate.vocabulary import Clock, ExpectedAlert

__all__ = [
    "DEFAULT_DEADLINE_S",
    "DEFAULT_RESOLVE_DEADLINE_S",
    "EXTENSION_NAME",
    "ROLLBACK_STRATEGY",
    "ChaosgateExtension",
    "ExpectedInhibitionSpec",
    "Experiment",
    "ExperimentError",
    "chaosgate_extension",
    "exception_text",
    "expected_alerts",
    "failed_activities",
    "load_experiment",
    "run_experiment",
    "validate_experiment",
]

Experiment = dict[str, Any]

EXTENSION_NAME = "chaosgate"
DEFAULT_DEADLINE_S = 30.0
DEFAULT_RESOLVE_DEADLINE_S = 60.0
# chaoslib reads it from settings["runtime"]["rollbacks"]["strategy"]; "always" plays the
# rollbacks even when the run failed or was interrupted (its default skips them then)
ROLLBACK_STRATEGY = "always"

_EXTENSION_KEYS = (
    "name",
    "expected_alerts",
    "expected_inhibitions",
    "resolve_deadline_s",
    "keeps_slo",
)
_ALERT_KEYS = ("alertname", "labels", "label_patterns", "deadline_s")
_INHIBITION_KEYS = (*_ALERT_KEYS, "inhibited_by")
# "chaoslib.exceptions.ActivityFailed: chaoslib.exceptions.ActivityFailed: why" -> "why"
_EXCEPTION_PREFIX = re.compile(r"^(?:[A-Za-z_][\w.]*(?:Error|Exception|Failed|Timeout): )+")


@dataclass(frozen=True)
class ExpectedInhibitionSpec:
    """An alert the fault raises that Alertmanager must inhibit: listed with ``inhibitedBy``
    naming a firing alert called ``inhibited_by``, and never sent to a receiver."""

    alert: ExpectedAlert
    inhibited_by: str


@dataclass(frozen=True)
class ChaosgateExtension:
    expected_alerts: tuple[ExpectedAlert, ...]
    expected_inhibitions: tuple[ExpectedInhibitionSpec, ...] = ()
    resolve_deadline_s: float = DEFAULT_RESOLVE_DEADLINE_S
    keeps_slo: bool = False  # the fault window is judged with the steady-state SLO bounds


def load_experiment(path: str | Path) -> Experiment:
    """The experiment in the JSON or YAML file ``path``, read without blocking and bounded
    (:func:`read_experiment_file`), every field of the JSON type chaoslib expects
    (:func:`check_structure`)."""
    return check_structure(read_experiment_file(path), source=str(path))


def _deadline(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExperimentError(f"{where}: {value!r} is not a number of seconds; give e.g. 30")
    if not 0 < value <= MAX_SECONDS:
        raise ExperimentError(
            f"{where}: {value!r} must be a number of seconds > 0 and <= {MAX_SECONDS:g} (the "
            "target's deadlines stop there too)"
        )
    return float(value)


def _string_map(value: object, where: str, example: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ExperimentError(
            f"{where}: {value!r} must map label names to string values, e.g. {example}"
        )
    return dict(value)


def _patterns(value: object, where: str) -> dict[str, str]:
    patterns = _string_map(value, where, '{"mountpoint": ".*/disk-fill-[0-9]+"}')
    for name, pattern in patterns.items():
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ExperimentError(
                f"{where}.{name}: {pattern!r} is not a regular expression ({exc})"
            ) from None
    return patterns


def _alert(item: object, where: str, keys: tuple[str, ...] = _ALERT_KEYS) -> ExpectedAlert:
    if not isinstance(item, dict):
        raise ExperimentError(
            f"{where}: expected an object like "
            '{"alertname": "UsersServiceDown", "labels": {...}, "deadline_s": 30}, '
            f"got {item!r}"
        )
    unknown = sorted(set(item) - set(keys))
    if unknown:
        raise ExperimentError(f"{where}: unknown key {unknown[0]!r}; use any of {', '.join(keys)}")
    name = item.get("alertname")
    if name is None:
        raise ExperimentError(
            f"{where}: missing 'alertname'; give the alert's name as in the Prometheus rules"
        )
    if not isinstance(name, str) or not name.strip():
        raise ExperimentError(f"{where}.alertname: {name!r} must be a non-empty string")
    labels = _string_map(item.get("labels", {}), f"{where}.labels", '{"service": "users"}')
    patterns = _patterns(item.get("label_patterns", {}), f"{where}.label_patterns")
    deadline = _deadline(item.get("deadline_s", DEFAULT_DEADLINE_S), f"{where}.deadline_s")
    return ExpectedAlert(
        alertname=name, labels=labels, deadline_s=deadline, label_patterns=patterns
    )


def _inhibition(item: object, where: str) -> ExpectedInhibitionSpec:
    alert = _alert(item, where, _INHIBITION_KEYS)
    assert isinstance(item, dict)
    source = item.get("inhibited_by")
    if not isinstance(source, str) or not source.strip():
        raise ExperimentError(
            f"{where}.inhibited_by: {source!r} must name the alert that inhibits it, "
            'e.g. "DatabasePoolExhausted"'
        )
    return ExpectedInhibitionSpec(alert=alert, inhibited_by=source)


def chaosgate_extension(
    experiment: Experiment, *, source: str = "experiment"
) -> ChaosgateExtension:
    """The experiment's chaosgate extension, checked; ``source`` names it in errors."""
    extensions = experiment.get("extensions")
    hint = (
        'add "extensions": [{"name": "chaosgate", "expected_alerts": [...], '
        '"resolve_deadline_s": 60}]'
    )
    if extensions is None:
        raise ExperimentError(f"{source}: no 'extensions' block; {hint}")
    if not isinstance(extensions, list):
        raise ExperimentError(f"{source}: 'extensions' must be a list; {hint}")
    found = [
        (index, ext)
        for index, ext in enumerate(extensions)
        if isinstance(ext, dict) and ext.get("name") == EXTENSION_NAME
    ]
    if not found:
        raise ExperimentError(f"{source}: no extension named {EXTENSION_NAME!r}; {hint}")
    if len(found) > 1:
        raise ExperimentError(
            f"{source}: {len(found)} extensions named {EXTENSION_NAME!r} "
            f"(at extensions[{found[0][0]}] and [{found[1][0]}]); keep one"
        )
    index, ext = found[0]
    where = f"{source}: extensions[{index}] ({EXTENSION_NAME})"
    unknown = sorted(set(ext) - set(_EXTENSION_KEYS))
    if unknown:
        raise ExperimentError(
            f"{where}: unknown key {unknown[0]!r}; use any of {', '.join(_EXTENSION_KEYS[1:])}"
        )
    if "expected_alerts" not in ext:
        raise ExperimentError(
            f"{where}: missing 'expected_alerts'; list the alerts the fault must raise "
            "([] when none is expected)"
        )
    alerts = ext["expected_alerts"]
    if not isinstance(alerts, list):
        raise ExperimentError(f"{where}.expected_alerts: {alerts!r} must be a list")
    specs = tuple(_alert(item, f"{where}.expected_alerts[{i}]") for i, item in enumerate(alerts))
    inhibitions_raw = ext.get("expected_inhibitions", [])
    if not isinstance(inhibitions_raw, list):
        raise ExperimentError(f"{where}.expected_inhibitions: {inhibitions_raw!r} must be a list")
    inhibitions = tuple(
        _inhibition(item, f"{where}.expected_inhibitions[{i}]")
        for i, item in enumerate(inhibitions_raw)
    )
    resolve = _deadline(
        ext.get("resolve_deadline_s", DEFAULT_RESOLVE_DEADLINE_S), f"{where}.resolve_deadline_s"
    )
    keeps_slo = ext.get("keeps_slo", False)
    if not isinstance(keeps_slo, bool):
        raise ExperimentError(
            f"{where}.keeps_slo: {keeps_slo!r} must be true or false (true: the service keeps "
            "its steady-state SLO during this fault)"
        )
    return ChaosgateExtension(
        expected_alerts=specs,
        expected_inhibitions=inhibitions,
        resolve_deadline_s=resolve,
        keeps_slo=keeps_slo,
    )


def expected_alerts(experiment: Experiment, *, source: str = "experiment") -> list[ExpectedAlert]:
    """The alerts the experiment's fault must raise, from its chaosgate extension."""
    return list(chaosgate_extension(experiment, source=source).expected_alerts)


def validate_experiment(
    path: str | Path, *, target: str | None = None, chaos: ChaosKind | None = None
) -> Experiment:
    """Load ``path`` and check it: its structure, the kind of chaos of its activities when
    ``chaos`` (the kind of the target named ``target``) is given, chaoslib's validation, the
    types and sizes of the activities' arguments, then our extension. No side effects beyond
    importing the activities' modules. Returns the experiment."""
    source = str(path)
    experiment = load_experiment(path)
    if chaos is not None:
        check_chaos_kind(experiment, source=source, target=target or "?", chaos=chaos)
    try:
        ensure_experiment_is_valid(experiment)
    except ChaosException as exc:
        raise ExperimentError(f"{path}: invalid experiment: {exc}") from exc
    except Exception as exc:  # chaoslib tripping over a value it did not expect
        reason = " ".join(str(exc).split())[:200]
        raise ExperimentError(
            f"{path}: invalid experiment: chaoslib cannot validate it ({type(exc).__name__}: "
            f"{reason}); fix the value it names"
        ) from exc
    check_arguments(experiment, source=source)
    chaosgate_extension(experiment, source=source)
    return experiment


def _with_rollbacks_always(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = copy.deepcopy(dict(settings)) if settings else {}
    runtime = merged.setdefault("runtime", {})
    runtime.setdefault("rollbacks", {})["strategy"] = ROLLBACK_STRATEGY
    return merged


def exception_text(exception: object) -> str:
    """The last line of chaoslib's formatted exception (a list of lines), on one line."""
    if isinstance(exception, list):
        lines = [line for chunk in exception for line in str(chunk).splitlines() if line.strip()]
        text = lines[-1] if lines else ""
    else:
        text = str(exception or "")
    text = _EXCEPTION_PREFIX.sub("", " ".join(text.split()))
    return text[:300] or "no reason given"


def failed_activities(journal: Mapping[str, Any]) -> list[str]:
    """``"<phase>: <activity>: <why>"`` for each activity of the method and the rollbacks that
    failed in ``journal`` (hypothesis probes are judged by chaoslib: a deviation)."""
    failed = []
    for phase, runs in (("method", journal.get("run")), ("rollback", journal.get("rollbacks"))):
        for run in runs if isinstance(runs, list) else []:
            if not isinstance(run, dict) or run.get("status") != "failed":
                continue
            activity = run.get("activity")
            name = activity.get("name", "?") if isinstance(activity, dict) else "?"
            failed.append(f"{phase}: {name}: {exception_text(run.get('exception'))}")
    return failed


def run_experiment(
    path: str | Path,
    *,
    timeline: Timeline,
    settings: Mapping[str, Any] | None = None,
    configuration: Mapping[str, Any] | None = None,
    clock: Clock = time.time,
    event_handlers: Sequence[RunEventHandler] = (),
) -> dict[str, Any]:
    """Validate and run the experiment at ``path``; returns chaoslib's journal.

    The rollbacks are always played (chaoslib's rollback strategy ``always``, set in the
    settings chaoslib reads it from, whatever ``settings`` says), and every event is stamped
    onto ``timeline`` with ``clock``. ``configuration`` overrides values of the experiment's
    ``configuration`` block (as ``chaos run --var`` does; keys it does not declare are left
    out). ``event_handlers`` are further chaoslib event handlers. chaoslib installs signal
    handlers while it runs, so this must be called from the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        raise ExperimentError(
            f"{path}: run_experiment must be called from the main thread (chaoslib installs "
            "SIGTERM/SIGUSR handlers while the experiment runs); run the other work in threads"
        )
    experiment = validate_experiment(path)
    handler = TimelineHandler(timeline, clock=clock)
    declared = experiment.get("configuration")
    overrides = {
        key: value
        for key, value in (configuration or {}).items()
        if isinstance(declared, dict) and key in declared
    }
    journal = chaoslib_run_experiment(
        experiment,
        settings=_with_rollbacks_always(settings),
        experiment_vars=(overrides, None),
        event_handlers=[handler, *event_handlers],
    )
    if not isinstance(journal, dict):
        raise ExperimentError(f"{path}: chaoslib returned no journal ({journal!r})")
    return journal
