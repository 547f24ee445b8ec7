"""chaosgate's pytest plugin (pytest11): a team's own checks run against a finished run folder,
in pytest sessions of their own (pytester), with the plugin loaded by its entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosgate.checks_plugin import CheckTimeout, batched, poll_until
from tests.support.clocks import FakeClock
from tests.unit.report.run_fixture import EXPERIMENT, TITLE, write_run_folder

REPO = Path(__file__).resolve().parents[2]

CHECKS = f"""
def test_the_run_and_its_seed(chaosgate_run):
    assert chaosgate_run.seed == 7 and chaosgate_run.summary["run_id"]

def test_requests_inside_and_outside_the_faults(chaosgate_run, chaosgate_ledger,
                                               chaosgate_fault_windows):
    inside = chaosgate_run.ledger(in_faults=True)
    outside = chaosgate_run.ledger(in_faults=False)
    assert len(chaosgate_fault_windows) == 1
    assert inside and outside and len(inside) + len(outside) == len(chaosgate_ledger)
    window = chaosgate_fault_windows[0]
    assert all(window.contains(e.started_at) for e in inside)

def test_the_experiment_expects_its_alert(chaosgate_run):
    [experiment] = chaosgate_run.experiments
    assert experiment.title == {TITLE!r}
    assert [a.alertname for a in experiment.expected_alerts] == ["UsersServiceDown"]

def test_a_failing_check(chaosgate_ledger):
    assert len(chaosgate_ledger) == -1, "a seeded defect"
"""


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A finished run's folder, with the copy of its experiment renamed to the run's title."""
    run = write_run_folder(tmp_path / "reports")
    experiment = json.loads((REPO / "experiments" / "local" / f"{EXPERIMENT}.json").read_text())
    experiment["title"] = TITLE  # the fixture run's timeline names it so
    (run / "experiments").mkdir()
    (run / "experiments" / f"00-{EXPERIMENT}.json").write_text(json.dumps(experiment))
    return run


def test_checks_run_against_the_run_and_allure_writes_into_its_folder(
    pytester: pytest.Pytester, run_dir: Path
) -> None:
    pytester.makepyfile(test_team_checks=CHECKS)
    result = pytester.runpytest_inprocess("--chaosgate-run", str(run_dir), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*a seeded defect*"])
    written = list((run_dir / "allure-results").glob("*-result.json"))
    assert len(written) == 4
    statuses = sorted(json.loads(path.read_text())["status"] for path in written)
    assert statuses == ["failed", "passed", "passed", "passed"]


def test_a_check_without_a_run_errors_saying_what_to_give(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(chaosgate_run):\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*needs a finished run: pytest --chaosgate-run reports/<run-id>*"])


def test_a_folder_that_is_no_run_is_a_usage_error(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile("def test_it():\n    pass\n")
    result = pytester.runpytest_inprocess(
        "--chaosgate-run", str(tmp_path), "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--chaosgate-run*no summary.json there*"])


def test_without_the_option_the_plugin_leaves_a_session_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it():\n    pass\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_poll_until_returns_the_first_truthy_answer_and_gives_up_at_the_deadline() -> None:
    clock = FakeClock()
    answers = iter([None, [], ["found"]])
    assert poll_until(lambda: next(answers), timeout_s=5, what="x", clock=clock,
                      sleep=clock.sleep) == ["found"]  # fmt: skip
    assert clock.slept == [1.0, 1.0]
    with pytest.raises(CheckTimeout, match=r"the span: not within 3 s \(last seen: 0\)"):
        poll_until(lambda: 0, timeout_s=3, what="the span", clock=clock, sleep=clock.sleep)


def test_batched_keeps_order_and_a_short_tail() -> None:
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="size 0"):
        list(batched([1], 0))
