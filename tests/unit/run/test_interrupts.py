"""Real signals to this process: the first one interrupts (130 / 143), an experiment is ended
through its rollbacks, and a second signal never abandons a rollback."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosgate.chaos.experiments import run_experiment
from chaosgate.chaos.timeline import Timeline
from chaosgate.run.interrupts import Interrupts, RunInterrupted
from tests.unit.chaos import fake_activities
from tests.unit.chaos.support import activity, experiment, write


@pytest.fixture(autouse=True)
def _fresh_system() -> Iterator[None]:
    fake_activities.reset()
    yield
    fake_activities.reset()


def _signal_later(*delays_and_signals: tuple[float, int]) -> threading.Thread:
    def send() -> None:
        for delay, signum in delays_and_signals:
            threading.Event().wait(delay)
            os.kill(os.getpid(), signum)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_first_signal_interrupts_and_decides_the_exit_code(signum: int, code: int) -> None:
    interrupts = Interrupts()
    stopped: list[int] = []
    interrupts.on_signal(stopped.append)
    with interrupts.installed(), pytest.raises(RunInterrupted):
        _signal_later((0.1, signum))
        threading.Event().wait(5)
    assert interrupts.exit_code == code and stopped == [signum]
    assert signal.getsignal(signal.SIGTERM) is not interrupts.handler  # restored


def test_a_signal_in_a_protected_section_waits_for_its_end() -> None:
    interrupts = Interrupts()
    done = []
    with interrupts.installed(), pytest.raises(RunInterrupted), interrupts.protected():
        thread = _signal_later((0.05, signal.SIGTERM), (0.05, signal.SIGINT))
        thread.join()
        threading.Event().wait(0.1)
        done.append("the section finished")
    assert done == ["the section finished"]
    assert interrupts.signal_name == "SIGTERM" and interrupts.later == [signal.SIGINT]


def test_sigterm_in_the_method_ends_the_experiment_through_its_rollbacks(tmp_path: Path) -> None:
    doc = experiment(
        method=[activity("action", "break", "break_it"), activity("action", "wait", "slow",
                                                                  seconds=10)],
    )  # fmt: skip
    interrupts = Interrupts()
    with interrupts.installed():
        _signal_later((0.5, signal.SIGTERM))
        journal = run_experiment(
            write(tmp_path, doc),
            timeline=Timeline(),
            event_handlers=[interrupts.chaoslib_handler()],
        )
    assert journal["status"] == "interrupted"
    assert fake_activities.SYSTEM["broken"] is False  # repaired by the rollback
    assert fake_activities.SYSTEM["calls"] == ["intact", "break_it", "slow", "repair"]
    assert interrupts.exit_code == 143


def test_a_second_signal_during_the_rollbacks_does_not_abandon_them(tmp_path: Path) -> None:
    doc = experiment(
        method=[activity("action", "break", "break_it"), activity("action", "wait", "slow",
                                                                  seconds=10)],
        rollbacks=[activity("action", "slow-undo", "slow", seconds=0.5),
                   activity("action", "repair", "repair")],
    )  # fmt: skip
    interrupts = Interrupts()
    with interrupts.installed():  # the later two during slow-undo (0.5 to 1.0 s)
        _signal_later((0.5, signal.SIGINT), (0.15, signal.SIGINT), (0.1, signal.SIGTERM))
        journal = run_experiment(
            write(tmp_path, doc),
            timeline=Timeline(),
            event_handlers=[interrupts.chaoslib_handler()],
        )
        with pytest.raises(RunInterrupted):
            interrupts.check()
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded", "succeeded"]
    assert fake_activities.SYSTEM["broken"] is False
    assert interrupts.exit_code == 130 and interrupts.later == [signal.SIGINT, signal.SIGTERM]
