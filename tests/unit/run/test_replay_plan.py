"""A replay's plan from a recorded run folder: the profile with the recorded load, the
experiment copies checked against their SHA-256 and staged under their original names, the
schedule of recorded offsets, the target, and the new run that names the original.

The recorded folder is made the way a run makes it: the repository's experiments copied by
``copy_experiments``, fault windows from a real Timeline, the record from
``build_replay_record`` and summary.json written by ``write_summary``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from chaosgate.chaos.timeline import Timeline, TimelineEvent
from chaosgate.report.summary import RunSummary, write_summary
from chaosgate.run.part_versions import ChaosgateBuild
from chaosgate.run.profiles import EXPERIMENT_DIRS, PROFILES, resolve_profile
from chaosgate.run.replay import (
    RecordedRun,
    ReplayError,
    plan_replay,
    read_recorded_run,
    replay_profile,
    replay_schedule,
    resolve_replay_target,
    stage_experiments,
    staged_paths,
    verify_experiment_copies,
)
from chaosgate.run.run_plan import ReplayOf, RunPlan, ScheduledExperiment
from chaosgate.run.run_record import build_replay_record, copy_experiments
from chaosgate.run.run_record_load import load_replay_record
from chaosgate.target import ResolvedTarget, Target, local_target, resolve_target

LOCAL = EXPERIMENT_DIRS["local"]
KILL_USERS = LOCAL / "kill-users-service.json"
GATEWAY_ERRORS = LOCAL / "gateway-error-ratio.json"
IOT_ERRORS = LOCAL / "iot-error-ratio.json"
RUN_ID = "20261202-101010-gate-ab12"
LOAD_START = 1_800_000_000.0
BUILD = ChaosgateBuild(version="0.1.0", git_revision="a" * 40, git_dirty=False)


def title_of(path: Path) -> str:
    return str(json.loads(path.read_text())["title"])


def add_window(timeline: Timeline, title: str, start: float, inject: float | None) -> None:
    """One experiment run's events as TimelineHandler stamps them, ``start`` and ``inject``
    seconds after the load's start."""

    def add(kind: Any, activity: str, phase: Any, at: float, status: str) -> None:
        timeline.add(TimelineEvent(title, kind, activity, phase, LOAD_START + at, status))

    add("experiment-start", "", "start", start, "running")
    if inject is not None:
        add("inject", "break", "start", inject, "running")
        add("rollback", "", "end", inject + 20.0, "completed")
    add("experiment-end", "", "end", (inject or start) + 21.0, "completed")


def recorded_run(
    reports: Path,
    *,
    experiments: Sequence[Path] = (KILL_USERS, GATEWAY_ERRORS, IOT_ERRORS),
    windows: Sequence[tuple[Path, float, float | None]] = (
        (KILL_USERS, 20.0, 20.457),
        (GATEWAY_ERRORS, 61.5, 62.125),
    ),
    target: Target | None = None,
) -> Path:
    """A gate run's folder under ``reports``: 7 users, 95 s, seed 42, two scenarios; the
    ``windows`` (experiment, start offset, inject offset) ran, the other experiments not."""
    profile = resolve_profile(
        "gate", users=7, duration_s=95, seed=42, scenarios=["Customer", "IoTDevice"]
    )
    plan = RunPlan(RUN_ID, reports / RUN_ID, target or local_target(), profile, tuple(experiments))
    copies = copy_experiments(plan)
    timeline = Timeline()
    for path, start, inject in windows:
        add_window(timeline, title_of(path), start, inject)
    record = build_replay_record(
        plan, copies, timeline.experiment_spans(), LOAD_START, chaosgate=BUILD, parts={}
    )
    summary = RunSummary(
        run_id=RUN_ID,
        verdict="passed",
        exit_code=0,
        started_at=LOAD_START - 5,
        finished_at=LOAD_START + 200,
        settings={"profile": asdict(profile), "target": plan.target.redacted_dict()},
        timeline=timeline.as_json(),
        checks=[],
        load={},
        artifacts={},
        replay=record.as_json(),
    )
    write_summary(summary, plan.run_dir / "summary.json")
    return plan.run_dir


def builtin(spec: str, ports: dict[str, int] | None = None) -> ResolvedTarget:
    return resolve_target(spec, env={}, local_ports=ports)


@pytest.fixture
def recorded(tmp_path: Path) -> RecordedRun:
    return read_recorded_run(recorded_run(tmp_path / "reports"))


def test_the_profile_is_the_recorded_profile_with_the_recorded_load(
    recorded: RecordedRun,
) -> None:
    paths = [Path("/x/a.json"), Path("/x/b.json"), Path("/x/c.json")]
    profile = replay_profile(recorded.record, paths)
    gate = PROFILES["gate"]
    assert (profile.name, profile.seed, profile.users, profile.duration_s) == ("gate", 42, 7, 95)
    assert profile.scenarios == ("Customer", "IoTDevice")
    assert dict(profile.weights) == dict(gate.weights)
    assert (profile.spawn_rate, profile.processes, profile.shape, profile.iot_devices) == (
        gate.spawn_rate,
        gate.processes,
        gate.shape,
        gate.iot_devices,
    )
    assert (profile.chaos_start_s, profile.recovery_s) == (gate.chaos_start_s, gate.recovery_s)
    # the bounds are the profile's own
    assert (profile.slo, profile.alert_coverage) == (gate.slo, gate.alert_coverage)
    assert profile.experiments == tuple(str(path) for path in paths)


def test_a_recorded_load_the_profile_never_had_comes_back_as_recorded(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["replay"]["load"].update(shape="spike", processes=3, spawn_rate=2.5, iot_devices=4)
    summary["replay"]["load"].update(workers=2, expect_workers=1, master_bind="127.0.0.1:5557")
    summary["replay"]["weights"] = {"Customer": 1, "IoTDevice": 9}
    profile = replay_profile(load_replay_record(summary), [])
    assert (profile.workers, profile.expect_workers, profile.master_bind) == (
        2,
        1,
        "127.0.0.1:5557",
    )
    assert (profile.shape, profile.processes, profile.spawn_rate, profile.iot_devices) == (
        "spike",
        3,
        2.5,
        4,
    )
    assert dict(profile.weights) == {"Customer": 1, "IoTDevice": 9}


def test_a_runs_own_checks_are_recorded_and_come_back_and_old_records_have_none(
    tmp_path: Path,
) -> None:
    run_dir = recorded_run(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["replay"]["checks"], summary["replay"]["check_timeout_s"]) == ("", 60)
    summary["replay"].update(checks="/team/checks", check_timeout_s=15)
    profile = replay_profile(load_replay_record(summary), [])
    assert (profile.checks, profile.check_timeout_s) == ("/team/checks", 15)
    for key in ("checks", "check_timeout_s"):
        del summary["replay"][key]  # a record made before a team's checks existed
    profile = replay_profile(load_replay_record(summary), [])
    assert (profile.checks, profile.check_timeout_s) == ("", 60)
    summary["replay"]["check_timeout_s"] = 0
    with pytest.raises(ValueError, match="check_timeout_s"):
        load_replay_record(summary)


def test_the_schedule_is_each_experiment_s_recorded_start_and_inject(
    recorded: RecordedRun,
) -> None:
    assert replay_schedule(recorded.record) == (
        ScheduledExperiment(started_s=20.0, inject_s=20.457),
        ScheduledExperiment(started_s=61.5, inject_s=62.125),
        None,  # iot-error-ratio never started in the recorded run
    )


def test_an_experiment_that_injected_nothing_keeps_its_start(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path, experiments=[KILL_USERS], windows=[(KILL_USERS, 20.0, None)])
    (slot,) = replay_schedule(read_recorded_run(run_dir).record)
    assert slot == ScheduledExperiment(started_s=20.0, inject_s=None)


def test_the_plan_is_a_new_run_that_names_the_original(recorded: RecordedRun) -> None:
    copies = verify_experiment_copies(recorded)
    plan = plan_replay(recorded, builtin("local"), copies, command=["x"])
    assert re.fullmatch(r"\d{8}-\d{6}-gate-replay-[0-9a-f]{4}", plan.run_id)
    assert plan.run_dir == recorded.run_dir.parent / plan.run_id
    assert plan.replay_of == ReplayOf(RUN_ID, str(recorded.run_dir), "full")
    assert plan.schedule == replay_schedule(recorded.record)
    assert (plan.with_load, plan.web, plan.command) == (True, False, ("x",))
    # played from the new run's folder, under the names they ran under
    assert plan.experiments == staged_paths(copies, plan.run_dir)
    assert [path.name for path in plan.experiments] == [
        KILL_USERS.name,
        GATEWAY_ERRORS.name,
        IOT_ERRORS.name,
    ]
    assert plan.profile.experiments == tuple(str(path) for path in plan.experiments)


def test_faults_only_has_no_load_and_load_only_no_experiment(
    recorded: RecordedRun, tmp_path: Path
) -> None:
    copies = verify_experiment_copies(recorded)
    faults = plan_replay(recorded, builtin("local"), copies, mode="faults-only", web=True)
    assert (faults.with_load, faults.web, len(faults.experiments)) == (False, True, 3)
    assert faults.replay_of is not None and faults.replay_of.mode == "faults-only"
    elsewhere = tmp_path / "elsewhere"
    load = plan_replay(recorded, builtin("local"), copies, mode="load-only", reports_dir=elsewhere)
    assert (load.with_load, load.experiments, load.schedule) == (True, (), ())
    assert load.profile.experiments == ()
    assert load.profile.alert_coverage == ()  # no fault can raise the alerts it names
    assert load.run_dir.parent == elsewhere.resolve()


def test_the_new_run_s_record_names_the_original_and_reads_back(recorded: RecordedRun) -> None:
    copies = verify_experiment_copies(recorded)
    plan = plan_replay(recorded, builtin("local"), copies, mode="faults-only")
    record = build_replay_record(plan, (), (), None, chaosgate=BUILD, parts={})
    section = json.loads(json.dumps(record.as_json()))
    assert section["replay_of"] == {
        "run_id": RUN_ID,
        "run_dir": str(recorded.run_dir),
        "mode": "faults-only",
    }
    assert load_replay_record({"replay": section}).replay_of == plan.replay_of
    del section["replay_of"]  # a record of a run made before replays named their original
    assert load_replay_record({"replay": section}).replay_of is None
    section["replay_of"] = {"run_id": RUN_ID, "run_dir": "/x", "mode": "backwards"}
    with pytest.raises(ValueError, match=r"replay\.replay_of\.mode: is a string \('backwards'\)"):
        load_replay_record({"replay": section})


def test_a_changed_copy_is_refused_naming_it_and_both_hashes(recorded: RecordedRun) -> None:
    copy = recorded.run_dir / recorded.record.experiments[1].copy
    copy.write_text(copy.read_text().replace('"title"', '"title" ', 1))
    with pytest.raises(ReplayError) as caught:
        verify_experiment_copies(recorded)
    message = str(caught.value)
    assert str(copy) in message
    assert recorded.record.experiments[1].sha256 in message
    assert "changed after the run" in message


def test_a_missing_copy_is_refused_naming_it(recorded: RecordedRun) -> None:
    copy = recorded.run_dir / recorded.record.experiments[0].copy
    copy.unlink()
    with pytest.raises(ReplayError, match=re.escape(f"'{copy}' does not exist")):
        verify_experiment_copies(recorded)


def test_a_folder_without_a_record_is_refused(tmp_path: Path) -> None:
    run_dir = recorded_run(tmp_path)
    summary = json.loads((run_dir / "summary.json").read_text())
    del summary["replay"]
    (run_dir / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(ReplayError, match="has no 'replay' section"):
        read_recorded_run(run_dir)


def test_staged_copies_keep_their_bytes_and_original_names(recorded: RecordedRun) -> None:
    copies = verify_experiment_copies(recorded)
    plan = plan_replay(recorded, builtin("local"), copies)
    stage_experiments(copies, plan.experiments)
    originals = (KILL_USERS, GATEWAY_ERRORS, IOT_ERRORS)
    assert [p.read_bytes() for p in plan.experiments] == [p.read_bytes() for p in originals]
    # the new run's own copies then carry the same hashes as the recorded ones
    assert [c.sha256 for c in copy_experiments(plan)] == [
        c.sha256 for c in recorded.record.experiments
    ]


def test_the_recorded_built_in_target_is_the_default(recorded: RecordedRun) -> None:
    resolved = resolve_replay_target(recorded.record, None, builtin)
    assert resolved.target == local_target()


def test_a_recorded_built_in_target_that_resolves_otherwise_now_needs_target(
    recorded: RecordedRun,
) -> None:
    moved = {"gateway": 18080}
    with pytest.raises(ReplayError, match=r"gateway_url differ.*give --target \(and --port\)"):
        resolve_replay_target(recorded.record, None, lambda spec: builtin(spec, moved))
    # said explicitly, it is taken
    assert resolve_replay_target(recorded.record, "local", lambda s: builtin(s, moved))


def test_a_recorded_target_file_must_be_given_again(tmp_path: Path) -> None:
    staging = local_target().model_copy(update={"name": "staging"})
    recorded = read_recorded_run(recorded_run(tmp_path, target=staging))
    with pytest.raises(
        ReplayError, match=r"target 'staging' was read from a target file.*--target"
    ):
        resolve_replay_target(recorded.record, None, builtin)


def test_a_target_of_another_kind_of_chaos_is_refused(recorded: RecordedRun) -> None:
    with pytest.raises(ReplayError, match=r"takes kubernetes chaos; .* are local chaos"):
        resolve_replay_target(recorded.record, "local-k8s", builtin)
