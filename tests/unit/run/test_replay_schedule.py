"""A replay's faults at their recorded moments: the waits, the hold before the method's
first action, and the chaos phase playing a schedule.

chaoslib runs small experiments of ``tests.unit.chaos.fake_activities`` for real; time is a
fake clock that only moves when something sleeps, so every moment is exact.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chaosgate.chaos.experiments import run_experiment
from chaosgate.chaos.timeline import Timeline
from chaosgate.faults.ledger import FaultLedger, ProcessRef
from chaosgate.faults.recorder import RunFaults
from chaosgate.run.chaos_phase import ChaosPhaseInputs, ExperimentRun, run_chaos_timeline
from chaosgate.run.interrupts import Interrupts
from chaosgate.run.profiles import resolve_profile
from chaosgate.run.progress import Progress
from chaosgate.run.replay_schedule import InjectAlignment, first_action_hook, wait_until
from chaosgate.run.run_plan import RunPlan, ScheduledExperiment
from chaosgate.target import local_target
from tests.support.clocks import FakeClock
from tests.unit.chaos import fake_activities
from tests.unit.chaos.support import activity, experiment, probe, write

LOAD_START = 1_800_000_000.0


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    fake_activities.reset()
    yield
    fake_activities.reset()


def test_wait_until_sleeps_to_the_moment_in_ticks() -> None:
    clock = FakeClock(100.0)
    assert wait_until(101.2, clock=clock, sleep=clock.sleep, tick_s=0.5)
    assert clock.now == pytest.approx(101.2)
    assert clock.slept == pytest.approx([0.5, 0.5, 0.2])


def test_wait_until_a_moment_past_returns_at_once() -> None:
    clock = FakeClock(100.0)
    assert wait_until(99.0, clock=clock, sleep=clock.sleep)
    assert clock.slept == []


def test_wait_until_stops_when_told_to_stop_waiting() -> None:
    clock = FakeClock(100.0)
    assert not wait_until(110.0, clock=clock, sleep=clock.sleep, keep_waiting=lambda: clock() < 102)
    assert clock.now == pytest.approx(102.0)
    assert clock.slept and all(s > 0 for s in clock.slept)  # sleeps only while time is left


def test_the_hook_is_the_method_s_start_or_the_activity_before_the_first_action() -> None:
    first = activity("action", "break", "break_it")
    assert first_action_hook(experiment(method=[first])) == (None, 0.0)
    paused = {**first, "pauses": {"before": 2, "after": 30}}
    assert first_action_hook(experiment(method=[paused])) == (None, 2.0)
    look = {**probe("look", "intact"), "pauses": {"after": 1.5}}
    assert first_action_hook(experiment(method=[look, paused])) == ("look", 3.5)
    # a background activity before it does not hold the method; a pattern is no number
    watch = {**probe("watch", "intact"), "background": True}
    assert first_action_hook(experiment(method=[watch, first])) == (None, 0.0)
    patterned = {**first, "pauses": {"before": "${wait}"}}
    assert first_action_hook(experiment(method=[look, watch, patterned])) == ("look", 1.5)
    # a background action is the first action all the same (the timeline says so too)
    slow = activity("action", "slow", "slow", background=True)
    assert first_action_hook(experiment(method=[look, slow, first])) == ("look", 1.5)
    assert first_action_hook(experiment(method=[probe("look", "intact")])) is None


def test_a_ref_to_an_action_counts_as_the_first_action() -> None:
    doc = experiment(method=[probe("look", "intact"), {"ref": "repair"}])
    assert first_action_hook(doc) == ("look", 0.0)


def _calls() -> list[object]:
    calls = fake_activities.SYSTEM["calls"]
    assert isinstance(calls, list)
    return calls


def _injects(timeline: Timeline) -> list[float]:
    return [e.at for e in timeline.events() if e.kind == "inject" and e.phase == "start"]


def test_the_first_action_starts_at_the_inject_moment(tmp_path: Path) -> None:
    clock = FakeClock(LOAD_START + 20.0)
    timeline = Timeline()
    alignment = InjectAlignment(LOAD_START + 23.5, clock=clock, sleep=clock.sleep)
    doc = experiment(
        method=[activity("action", "break", "break_it"), activity("action", "again", "break_it")]
    )
    path = write(tmp_path, doc)
    journal = run_experiment(path, timeline=timeline, clock=clock, event_handlers=[alignment])
    assert journal["status"] == "completed"
    assert _injects(timeline) == [LOAD_START + 23.5, LOAD_START + 23.5]  # held once, at the first
    (window,) = timeline.experiment_spans()
    assert window.started_at == LOAD_START + 20.0
    assert window.inject_at == LOAD_START + 23.5
    assert alignment.waited_s == pytest.approx(3.5)
    assert alignment.late_s == 0.0
    assert sum(clock.slept) == pytest.approx(3.5) and all(s > 0 for s in clock.slept)
    assert _calls()[:3] == ["intact", "break_it", "break_it"]


def test_probes_before_the_first_action_run_first_and_the_action_waits(tmp_path: Path) -> None:
    clock = FakeClock(LOAD_START + 20.0)
    timeline = Timeline()
    alignment = InjectAlignment(LOAD_START + 30.0, clock=clock, sleep=clock.sleep)
    doc = experiment(method=[probe("look", "intact"), activity("action", "break", "break_it")])
    path = write(tmp_path, doc)
    run_experiment(path, timeline=timeline, clock=clock, event_handlers=[alignment])
    look = [e.at for e in timeline.events() if e.activity == "look"]
    assert look == [LOAD_START + 20.0, LOAD_START + 20.0]  # the probe ran at once
    assert _injects(timeline) == [LOAD_START + 30.0]
    assert all(s > 0 for s in clock.slept)  # a wait sleeps only while there is time left


def test_a_late_experiment_injects_at_once_and_says_by_how_much(tmp_path: Path) -> None:
    clock = FakeClock(LOAD_START + 40.0)
    timeline = Timeline()
    alignment = InjectAlignment(LOAD_START + 38.0, clock=clock, sleep=clock.sleep)
    path = write(tmp_path, experiment())
    run_experiment(path, timeline=timeline, clock=clock, event_handlers=[alignment])
    assert _injects(timeline) == [LOAD_START + 40.0]
    assert alignment.late_s == pytest.approx(2.0)
    assert clock.slept == []


def test_a_signal_during_the_hold_ends_the_experiment_before_its_fault(tmp_path: Path) -> None:
    clock = FakeClock(LOAD_START)

    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt  # what RunInterrupted is

    alignment = InjectAlignment(LOAD_START + 5.0, clock=clock, sleep=interrupted)
    path = write(tmp_path, experiment())
    journal = run_experiment(path, timeline=Timeline(), clock=clock, event_handlers=[alignment])
    assert journal["status"] == "interrupted"
    assert "break_it" not in _calls()


# --- the chaos phase playing a schedule ----------------------------------------------------


def _plan(
    tmp_path: Path, docs: list[dict[str, Any]], schedule: Sequence[ScheduledExperiment | None]
) -> RunPlan:
    paths = tuple(write(tmp_path, doc, f"{index:02d}-exp.json") for index, doc in enumerate(docs))
    profile = resolve_profile("smoke", duration_s=100)
    return RunPlan(
        "replay", tmp_path / "run", local_target(), profile, paths, schedule=tuple(schedule)
    )


def _play(
    plan: RunPlan, clock: FakeClock, load_running: Callable[[], bool] = lambda: True
) -> tuple[Timeline, list[ExperimentRun], str]:
    """The chaos phase of ``plan`` with the load started at LOAD_START: the timeline, the
    experiments' results and what the progress printed."""
    timeline, printed = Timeline(), io.StringIO()
    results: list[ExperimentRun] = []
    ledger = FaultLedger(plan.run_dir / "ledger-state")
    faults = RunFaults(
        ledger, run_id=plan.run_id, target="local", runner=ProcessRef.of(os.getpid())
    )
    interrupts = Interrupts()
    progress = Progress(Console(file=printed, width=300))
    with interrupts.installed():
        inputs = ChaosPhaseInputs(
            plan, timeline, progress, load_running, results, faults, interrupts, LOAD_START
        )
        run_chaos_timeline(inputs, clock=clock, sleep=clock.sleep)
    assert all(s > 0 for s in clock.slept)  # a wait sleeps only while there is time left
    return timeline, results, printed.getvalue()


def test_each_experiment_starts_and_injects_at_its_recorded_offsets(tmp_path: Path) -> None:
    docs = [experiment(title="first"), experiment(title="second"), experiment(title="third")]
    schedule = [
        ScheduledExperiment(started_s=20.0, inject_s=20.75),
        None,  # it never started in the recorded run
        ScheduledExperiment(started_s=61.5, inject_s=64.0),
    ]
    clock = FakeClock(LOAD_START + 1.0)  # the warm-up took a second
    timeline, results, printed = _play(_plan(tmp_path, docs, schedule), clock)
    windows = timeline.experiment_spans()
    assert [(w.experiment, w.started_at - LOAD_START, w.inject_at) for w in windows] == [
        ("first", 20.0, LOAD_START + 20.75),
        ("third", 61.5, LOAD_START + 64.0),
    ]
    assert [run.title for run in results] == ["first", "third"]
    assert "01-exp did not start in the recorded run; skipped" in printed
    assert "02-exp injected at +64.00 s, recorded +64.00 s (+0.00 s)" in printed


def test_an_experiment_recorded_past_the_load_s_end_is_skipped(tmp_path: Path) -> None:
    docs = [experiment(title="first"), experiment(title="late")]
    schedule = [ScheduledExperiment(10.0, 11.0), ScheduledExperiment(100.0, 101.0)]
    _, results, printed = _play(_plan(tmp_path, docs, schedule), FakeClock(LOAD_START))
    assert [run.title for run in results] == ["first"]
    assert "01-exp started at +100.0 s in the recorded run, past the load's end (+100 s)" in printed


def test_the_load_ending_before_a_recorded_start_ends_the_phase(tmp_path: Path) -> None:
    docs = [experiment(title="first"), experiment(title="second")]
    schedule = [ScheduledExperiment(10.0, 11.0), ScheduledExperiment(80.0, 81.0)]
    clock = FakeClock(LOAD_START)
    _, results, printed = _play(
        _plan(tmp_path, docs, schedule), clock, load_running=lambda: clock() < LOAD_START + 50
    )
    assert [run.title for run in results] == ["first"]
    assert "the load ended before 01-exp's recorded start (+80.0 s)" in printed
    assert clock.now == pytest.approx(LOAD_START + 50.0)  # it stopped waiting when the load did
