"""The timeline handler, fed by chaoslib's own run of tiny experiments (fake_activities)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from chaoslib.experiment import run_experiment as chaoslib_run_experiment

from chaosgate.chaos.experiments import ExperimentError, load_experiment, run_experiment
from chaosgate.chaos.timeline import Timeline, TimelineEvent, TimelineHandler
from tests.support.clocks import FakeClock
from tests.unit.chaos import fake_activities
from tests.unit.chaos.support import activity, experiment, probe, write


@pytest.fixture(autouse=True)
def fresh_system() -> Iterator[None]:
    fake_activities.reset()
    yield
    fake_activities.reset()


def _rows(timeline: Timeline) -> list[tuple[str, str, str, float, str]]:
    return [(e.kind, e.activity, e.phase, e.at, e.status) for e in timeline.events()]


def test_every_activity_and_the_rollbacks_are_stamped_in_order(tmp_path: Path) -> None:
    path = write(tmp_path, experiment(title="break and repair"))
    timeline = Timeline()

    journal = run_experiment(path, timeline=timeline, clock=FakeClock(1000.0, step_per_reading=1.0))

    assert journal["status"] == "completed"
    assert _rows(timeline) == [
        ("experiment-start", "", "start", 1000.0, "running"),
        ("probe", "is-intact", "start", 1001.0, "running"),
        ("probe", "is-intact", "end", 1002.0, "succeeded"),
        ("inject", "break", "start", 1003.0, "running"),
        ("inject", "break", "end", 1004.0, "succeeded"),
        ("probe", "is-intact", "start", 1005.0, "running"),
        ("probe", "is-intact", "end", 1006.0, "succeeded"),
        ("rollback", "", "start", 1007.0, "running"),
        ("rollback", "repair", "start", 1008.0, "running"),
        ("rollback", "repair", "end", 1009.0, "succeeded"),
        ("rollback", "", "end", 1010.0, "completed"),
        ("experiment-end", "", "end", 1011.0, "deviated"),
    ]
    assert {e.experiment for e in timeline.events()} == {"break and repair"}
    # the hypothesis after the method saw the broken system: deviated, then repaired
    assert journal["deviated"] is True
    assert fake_activities.SYSTEM["broken"] is False


def test_fault_window_is_first_inject_start_to_rollbacks_end(tmp_path: Path) -> None:
    doc = experiment(
        method=[
            activity("action", "break", "break_it"),
            probe("look", "intact"),
            activity("action", "wait", "slow", seconds=0.0),
        ]
    )
    timeline = Timeline()
    run_experiment(
        write(tmp_path, doc), timeline=timeline, clock=FakeClock(0.0, step_per_reading=1.0)
    )

    [window] = timeline.experiment_spans()
    inject_starts = [e for e in timeline.events() if e.kind == "inject" and e.phase == "start"]
    assert [e.activity for e in inject_starts] == ["break", "wait"]
    assert window.inject_at == inject_starts[0].at
    rollbacks_end = [e for e in timeline.events() if e.kind == "rollback" and e.activity == ""][-1]
    assert window.rollback_at == rollbacks_end.at
    assert window.started_at == 0.0
    assert window.ended_at == timeline.events()[-1].at
    assert window.status == "deviated"
    # a probe inside the method is a probe, not an injection
    assert [e.kind for e in timeline.events() if e.activity == "look"] == ["probe", "probe"]
    assert timeline.span("break and repair") == window
    assert timeline.span("no such experiment") is None


def test_rollbacks_are_played_even_when_the_run_failed(tmp_path: Path) -> None:
    # the hypothesis after the method cannot run (its probe raises): the run "failed"
    doc = experiment(hypothesis=[probe("must-be-intact", "must_be_intact")])
    path = write(tmp_path, doc)

    # chaoslib's default strategy skips the rollbacks of a failed run ...
    default = chaoslib_run_experiment(load_experiment(path), settings={})
    assert default["status"] == "failed"
    assert default["rollbacks"] == []
    assert fake_activities.SYSTEM["broken"] is True

    # ... ours always plays them, whatever the caller's settings say
    fake_activities.reset()
    timeline = Timeline()
    settings = {"runtime": {"rollbacks": {"strategy": "never"}}}
    journal = run_experiment(path, timeline=timeline, settings=settings)
    assert journal["status"] == "failed"
    assert [run["activity"]["name"] for run in journal["rollbacks"]] == ["repair"]
    assert fake_activities.SYSTEM["broken"] is False
    assert settings == {"runtime": {"rollbacks": {"strategy": "never"}}}, "settings mutated"
    [window] = timeline.experiment_spans()
    assert window.inject_at is not None and window.rollback_at is not None
    assert window.status == "failed"


def test_no_inject_when_the_hypothesis_fails_before_the_method(tmp_path: Path) -> None:
    fake_activities.break_it()
    doc = experiment(hypothesis=[probe("must-be-intact", "must_be_intact")])
    timeline = Timeline()
    journal = run_experiment(write(tmp_path, doc), timeline=timeline)

    assert journal["status"] == "failed"
    [window] = timeline.experiment_spans()
    assert window.inject_at is None
    # rollbacks are still played ("always"), so the window has a rollback time
    assert window.rollback_at is not None
    assert fake_activities.SYSTEM["calls"] == ["break_it", "must_be_intact", "repair"]


def test_a_background_action_keeps_its_inject_kind(tmp_path: Path) -> None:
    doc = experiment(method=[activity("action", "slow-break", "slow", background=True)])
    timeline = Timeline()
    run_experiment(write(tmp_path, doc), timeline=timeline)

    kinds = [(e.kind, e.phase) for e in timeline.events() if e.activity == "slow-break"]
    assert kinds == [("inject", "start"), ("inject", "end")]


def test_one_timeline_holds_several_runs(tmp_path: Path) -> None:
    timeline = Timeline()
    clock = FakeClock(0.0, step_per_reading=1.0)
    run_experiment(
        write(tmp_path, experiment(title="first"), "a.json"), timeline=timeline, clock=clock
    )
    run_experiment(
        write(tmp_path, experiment(title="second"), "b.json"), timeline=timeline, clock=clock
    )

    windows = timeline.experiment_spans()
    assert [w.experiment for w in windows] == ["first", "second"]
    first, second = windows
    assert first.inject_at is not None and first.rollback_at is not None
    assert second.inject_at is not None and first.rollback_at < second.inject_at
    assert [e["kind"] for e in timeline.as_json()].count("experiment-start") == 2
    assert second.as_json()["experiment"] == "second"


def test_run_experiment_refuses_a_thread_other_than_main(tmp_path: Path) -> None:
    path = write(tmp_path, experiment())
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_experiment(path, timeline=Timeline())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    [error] = errors
    assert isinstance(error, ExperimentError)
    assert str(path) in str(error) and "main thread" in str(error)
    assert fake_activities.SYSTEM["calls"] == []


def test_the_timeline_is_safe_to_share_between_threads() -> None:
    timeline = Timeline()
    handler = TimelineHandler(timeline, clock=lambda: 1.0)
    handler.started({"title": "t"}, {})

    def stamp() -> None:
        for i in range(500):
            handler.start_activity({"type": "probe", "name": f"p{i}"})

    threads = [threading.Thread(target=stamp) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(timeline.events()) == 1 + 8 * 500
    assert all(isinstance(e, TimelineEvent) for e in timeline.events())
