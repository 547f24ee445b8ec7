"""The replay record: experiment copies, fault offsets, the section built and read back.

The experiments are the repository's own files (and a YAML one written here); the fault
windows come from a real Timeline fed the events chaoslib's handler stamps; the target is
loaded the way the CLI loads it, credential included, to show it never reaches the record.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from chaosgate.chaos.timeline import Timeline, TimelineEvent
from chaosgate.run.part_versions import ChaosgateBuild
from chaosgate.run.profiles import EXPERIMENT_DIRS, MAX_SEED, PROFILES, resolve_profile
from chaosgate.run.run_plan import RunPlan
from chaosgate.run.run_record import (
    ExperimentCopy,
    ExperimentCopyError,
    LoadSettings,
    RecordedFault,
    ReplayRecord,
    build_replay_record,
    copy_experiments,
    fault_offsets,
)
from chaosgate.run.run_record_load import ReplayRecordError, load_replay_record
from chaosgate.target import Target, load_target, local_target

LOCAL = EXPERIMENT_DIRS["local"]
KILL_USERS = LOCAL / "kill-users-service.json"
GATEWAY_ERRORS = LOCAL / "gateway-error-ratio.json"
LOAD_START = 1_800_000_000.0
BUILD = ChaosgateBuild(version="0.1.0", git_revision="a" * 40, git_dirty=False)
SECRET = "s3cret-es-password"


def title_of(path: Path) -> str:
    return str(json.loads(path.read_text())["title"])


def plan_of(
    tmp_path: Path, experiments: list[Path], *, target: Target | None = None, **overrides: Any
) -> RunPlan:
    profile = resolve_profile("gate", **overrides)
    return RunPlan(
        "20261202-101010-gate-ab12",
        tmp_path / "run",
        target or local_target(),
        profile,
        tuple(experiments),
    )


def yaml_experiment(tmp_path: Path) -> Path:
    path = tmp_path / "own" / "stop-nothing.yaml"
    path.parent.mkdir()
    path.write_text("version: 1.0.0\ntitle: Nothing stops (YAML) — ünïcode\nmethod: []\n")
    return path


def test_copies_are_the_experiment_files_byte_for_byte_with_their_sha256(tmp_path: Path) -> None:
    own = yaml_experiment(tmp_path)
    plan = plan_of(tmp_path, [KILL_USERS, GATEWAY_ERRORS, own])
    copies = copy_experiments(plan)
    assert [c.copy for c in copies] == [
        "experiments/00-kill-users-service.json",
        "experiments/01-gateway-error-ratio.json",
        "experiments/02-stop-nothing.yaml",  # the suffix kept: chaoslib reads it by its suffix
    ]
    for index, (item, original) in enumerate(zip(copies, plan.experiments, strict=True)):
        data = original.read_bytes()
        assert (plan.run_dir / item.copy).read_bytes() == data
        assert item.sha256 == hashlib.sha256(data).hexdigest()
        assert (item.index, item.original, item.size_bytes) == (index, str(original), len(data))
    assert [c.title for c in copies] == [
        title_of(KILL_USERS),
        title_of(GATEWAY_ERRORS),
        "Nothing stops (YAML) — ünïcode",
    ]


def test_a_copy_keeps_what_ran_when_the_original_is_edited_after(tmp_path: Path) -> None:
    own = yaml_experiment(tmp_path)
    before = own.read_bytes()
    (item,) = copy_experiments(plan_of(tmp_path, [own]))
    own.write_text("title: changed after the run\n")
    assert (tmp_path / "run" / item.copy).read_bytes() == before
    assert item.sha256 == hashlib.sha256(before).hexdigest()


def test_a_relative_experiment_path_is_recorded_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    yaml_experiment(tmp_path)
    monkeypatch.chdir(tmp_path)
    (item,) = copy_experiments(plan_of(tmp_path, [Path("own/stop-nothing.yaml")]))
    assert item.original == str(tmp_path / "own" / "stop-nothing.yaml")


def test_an_experiment_gone_before_the_copy_is_an_error_naming_it(tmp_path: Path) -> None:
    gone = tmp_path / "gone.json"
    with pytest.raises(ExperimentCopyError, match=f"experiment '{gone}': does not exist"):
        copy_experiments(plan_of(tmp_path, [KILL_USERS, gone]))


def test_an_unwritable_run_folder_is_an_error_naming_the_copy(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, [KILL_USERS])
    plan.run_dir.mkdir()
    (plan.run_dir / "experiments").write_text("a file where the folder goes")
    with pytest.raises(ExperimentCopyError, match=r"cannot copy experiment .*kill-users-service"):
        copy_experiments(plan)


def run_window(
    timeline: Timeline, title: str, start: float, inject: float | None, rollback: float | None
) -> None:
    """One experiment run's events, as TimelineHandler stamps them."""

    def add(kind: Any, activity: str, phase: Any, at: float, status: str) -> None:
        timeline.add(TimelineEvent(title, kind, activity, phase, at, status))

    add("experiment-start", "", "start", start, "running")
    add("probe", "gateway-answers", "start", start + 0.1, "running")
    if inject is not None:
        add("inject", "kill", "start", inject, "running")
        add("inject", "kill", "end", inject + 0.2, "succeeded")
    if rollback is not None:
        add("rollback", "", "start", rollback - 0.5, "running")
        add("rollback", "", "end", rollback, "completed")
    end = (rollback or inject or start) + 1.0
    add("experiment-end", "", "end", end, "completed" if inject else "failed")


def test_faults_are_offsets_from_the_load_start_matched_to_their_experiment(
    tmp_path: Path,
) -> None:
    # the plan: kill-users, gateway-errors, kill-users again; gateway-errors never started
    copies = copy_experiments(plan_of(tmp_path, [KILL_USERS, GATEWAY_ERRORS, KILL_USERS]))
    timeline = Timeline()
    kill = title_of(KILL_USERS)
    run_window(timeline, kill, LOAD_START + 20.0, LOAD_START + 20.4567, LOAD_START + 41.25)
    run_window(timeline, kill, LOAD_START + 60.0, None, None)  # hypothesis failed: no fault
    faults = fault_offsets(timeline.experiment_spans(), copies, LOAD_START)
    assert faults == (
        RecordedFault(kill, 0, "completed", 20.0, 20.457, 41.25, 42.25),
        RecordedFault(kill, 2, "failed", 60.0, None, None, 61.0),
    )


def test_a_window_of_an_experiment_the_plan_does_not_have_is_unmatched(tmp_path: Path) -> None:
    copies = copy_experiments(plan_of(tmp_path, [KILL_USERS]))
    timeline = Timeline()
    run_window(timeline, "someone else's", LOAD_START + 5, LOAD_START + 6, LOAD_START + 7)
    run_window(timeline, title_of(KILL_USERS), LOAD_START + 8, LOAD_START + 9, LOAD_START + 10)
    first, second = fault_offsets(timeline.experiment_spans(), copies, LOAD_START)
    assert (first.experiment_index, second.experiment_index) == (None, 0)


def test_no_load_start_no_offsets(tmp_path: Path) -> None:
    copies = copy_experiments(plan_of(tmp_path, [KILL_USERS]))
    timeline = Timeline()
    run_window(timeline, title_of(KILL_USERS), 5.0, 6.0, 7.0)
    (fault,) = fault_offsets(timeline.experiment_spans(), copies, None)
    assert (fault.started_s, fault.inject_s, fault.rollback_s, fault.ended_s) == (None,) * 4


def target_with_credential(tmp_path: Path) -> Target:
    path = tmp_path / "staging.yaml"
    path.write_text(
        "chaos: local\n"
        "elasticsearch:\n  url: https://es.staging.test:9200\n"
        "  auth: {username: chaosgate, password_env: ES_PASSWORD}\n"
    )
    target = load_target(str(path), env={"ES_PASSWORD": SECRET})
    assert target.elasticsearch.auth_header()  # the credential was read
    return target


def full_record(tmp_path: Path) -> tuple[RunPlan, ReplayRecord]:
    target = target_with_credential(tmp_path)
    plan = plan_of(
        tmp_path,
        [KILL_USERS, GATEWAY_ERRORS],
        target=target,
        users=7,
        duration_s=95,
        seed=42,
        scenarios=["Customer", "IoTDevice"],
    )
    copies = copy_experiments(plan)
    timeline = Timeline()
    run_window(timeline, title_of(KILL_USERS), LOAD_START + 20, LOAD_START + 21, LOAD_START + 40)
    parts: dict[str, dict[str, Any]] = {
        "jaeger": {"version": None, "revision": None, "build_date": None, "endpoint": "u"},
        "prometheus": {"error": "prometheus at http://p/api/v1/status/buildinfo: HTTP 503"},
    }
    record = build_replay_record(
        plan, copies, timeline.experiment_spans(), LOAD_START, chaosgate=BUILD, parts=parts
    )
    return plan, record


def test_the_record_holds_the_run_s_seed_profile_load_and_schedule(tmp_path: Path) -> None:
    plan, record = full_record(tmp_path)
    gate = PROFILES["gate"]
    assert (record.run_id, record.seed, record.profile, record.chaos) == (
        plan.run_id,
        42,
        "gate",
        "local",
    )
    assert record.scenarios == ("Customer", "IoTDevice")
    assert record.weights == {"Customer": 3, "KitchenStaff": 1, "IoTDevice": 2}
    assert record.load == LoadSettings(
        shape=None,
        users=7,
        spawn_rate=float(gate.spawn_rate),
        duration_s=95,
        processes=1,
        iot_devices=gate.iot_devices,
    )
    assert (record.chaos_start_s, record.recovery_s) == (gate.chaos_start_s, gate.recovery_s)
    assert record.load_started_at == LOAD_START
    assert [f.inject_s for f in record.faults] == [21.0]
    assert record.parts["prometheus"] == {
        "error": "prometheus at http://p/api/v1/status/buildinfo: HTTP 503"
    }


def test_the_nightly_s_processes_are_recorded(tmp_path: Path) -> None:
    plan = RunPlan("r", tmp_path, local_target(), PROFILES["nightly"], ())
    record = build_replay_record(plan, (), (), None, chaosgate=BUILD, parts={})
    assert record.load.processes == 2
    assert record.load.duration_s == PROFILES["nightly"].duration_s


def test_a_distributed_load_is_recorded_and_reads_back_and_an_older_record_has_none(
    tmp_path: Path,
) -> None:
    profile = replace(PROFILES["smoke"], workers=2, expect_workers=1, master_bind="0.0.0.0:5557")
    record = build_replay_record(
        RunPlan("r", tmp_path, local_target(), profile, ()), (), (), None, chaosgate=BUILD, parts={}
    )
    assert (record.load.workers, record.load.expect_workers, record.load.master_bind) == (
        2,
        1,
        "0.0.0.0:5557",
    )
    summary = {"run_id": "r", "replay": json.loads(json.dumps(record.as_json()))}
    assert load_replay_record(summary) == record
    for key in ("workers", "expect_workers", "master_bind"):  # a record made before them
        del summary["replay"]["load"][key]
    older = load_replay_record(summary).load
    assert (older.workers, older.expect_workers, older.master_bind) == (0, 0, "")


def test_the_record_names_where_the_credential_comes_from_never_the_credential(
    tmp_path: Path,
) -> None:
    _, record = full_record(tmp_path)
    assert record.target["elasticsearch"]["auth"] == {
        "username": "chaosgate",
        "password_env": "ES_PASSWORD",
        "password_file": None,
        "api_key_env": None,
        "api_key_file": None,
    }
    assert SECRET not in json.dumps(record.as_json())


def test_the_section_reads_back_as_the_same_record(tmp_path: Path) -> None:
    _, record = full_record(tmp_path)
    summary = {"run_id": record.run_id, "replay": json.loads(json.dumps(record.as_json()))}
    assert load_replay_record(summary) == record


def test_a_record_without_experiments_or_load_reads_back(tmp_path: Path) -> None:
    plan = RunPlan("r", tmp_path, local_target(), PROFILES["smoke"], ())
    record = build_replay_record(plan, (), (), None, chaosgate=ChaosgateBuild(None, None, None),
                                 parts={})  # fmt: skip
    assert load_replay_record({"replay": json.loads(json.dumps(record.as_json()))}) == record


def section(tmp_path: Path) -> dict[str, Any]:
    _, record = full_record(tmp_path)
    return json.loads(json.dumps(record.as_json()))  # type: ignore[no-any-return]


def drop(key: str) -> Any:
    return lambda s: s.pop(key)


def put(path: str, value: Any) -> Any:
    """Set the value at a dotted path (``experiments.0.sha256``)."""

    def change(s: dict[str, Any]) -> None:
        *heads, last = path.split(".")
        node: Any = s
        for head in heads:
            node = node[int(head)] if head.isdigit() else node[head]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (drop("seed"), "replay.seed: is missing"),
        (put("seed", "42"), "replay.seed: is a string ('42'), not an integer"),
        (put("seed", True), "replay.seed: is a boolean (True), not an integer"),
        (put("seed", MAX_SEED + 1), "replay.seed: is 9223372036854775808, out of range"),
        (put("format", 2), "replay.format: is 2; this chaosgate reads format 1"),
        (drop("format"), "replay.format: is missing"),
        (put("profile", ""), "replay.profile: is a string (''), not a non-empty string"),
        (put("chaos", "docker"), "replay.chaos: is a string ('docker'); give one of local"),
        (put("scenarios", "Customer"), "replay.scenarios: is a string ('Customer'), not a list"),
        (put("scenarios.1", 3), "replay.scenarios[1]: is an integer (3), not the name of a"),
        (put("weights.Customer", "3"), "replay.weights.Customer: is a string ('3'), not an"),
        (put("load", None), "replay.load: is null, not an object"),
        (put("load.users", 0), "replay.load.users: is 0, out of range; it must be from 1 to"),
        (drop("chaos_start_s"), "replay.chaos_start_s: is missing"),
        (put("load.spawn_rate", float("nan")), "replay.load.spawn_rate: is nan; it must be a"),
        (put("load.spawn_rate", 0), "replay.load.spawn_rate: is 0; it must be a finite number > 0"),
        (put("load.duration_s", 5), "replay.load.duration_s: is 5, out of range"),
        (put("load.shape", 1), "replay.load.shape: is an integer (1), not a non-empty string"),
        (put("experiments.1.index", 0), "replay.experiments[1].index: is 0, not 1"),
        (put("experiments.0.sha256", "ab" * 16), "replay.experiments[0].sha256: 'abab"),
        (put("experiments.0.copy", "../../etc/passwd"), "replay.experiments[0].copy: '../../etc"),
        (put("experiments.0.copy", "/etc/passwd"), "replay.experiments[0].copy: '/etc/passwd'"),
        (put("experiments.0.copy", "experiments/.."), "copy: 'experiments/..' names no file"),
        (put("experiments.0.copy", "experiments/../x.json"), "copy: 'experiments/../x.json' is"),
        (put("experiments.0.copy", "experiments/a/b.json"), "copy: 'experiments/a/b.json' is"),
        (put("experiments.0.copy", "experiments\\x.json"), "is not a file of the run's"),
        (put("experiments.1.size_bytes", -1), "replay.experiments[1].size_bytes: is -1"),
        (put("faults.0.experiment_index", 2), "replay.faults[0].experiment_index: is 2, out of"),
        (put("faults.0.inject_s", "21"), "replay.faults[0].inject_s: is a string ('21'), not a"),
        (put("faults.0.experiment", None), "replay.faults[0].experiment: is null, not a string"),
        (put("load_started_at", float("inf")), "replay.load_started_at: is inf; it must be"),
        (put("target", []), "replay.target: is a list ([]), not an object"),
        (put("chaosgate.git_dirty", "no"), "replay.chaosgate.git_dirty: is a string ('no'), not"),
        (drop("chaosgate"), "replay.chaosgate: is missing"),
        (put("parts.jaeger", "2.13"), "replay.parts.jaeger: is a string ('2.13'), not an object"),
    ],
)
def test_a_missing_or_bad_field_is_named(tmp_path: Path, change: Any, message: str) -> None:
    replay = section(tmp_path)
    change(replay)
    with pytest.raises(ReplayRecordError) as caught:
        load_replay_record({"replay": replay})
    assert str(caught.value).startswith("summary.json replay")
    assert message in str(caught.value)
    assert "record it anew" in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_a_fault_naming_an_experiment_in_a_record_without_any_is_refused(tmp_path: Path) -> None:
    replay = section(tmp_path)
    replay["experiments"] = []
    with pytest.raises(ReplayRecordError, match=r"faults\[0\].experiment_index: names an"):
        load_replay_record({"replay": replay})


def test_a_summary_without_a_replay_section_says_so() -> None:
    with pytest.raises(ReplayRecordError, match=r"summary\.json has no 'replay' section"):
        load_replay_record({"run_id": "x", "checks": []})
    with pytest.raises(ReplayRecordError, match=r"summary\.json is a list"):
        load_replay_record([])  # type: ignore[arg-type]
    with pytest.raises(ReplayRecordError, match=r"summary\.json replay: is a string"):
        load_replay_record({"replay": "yes"})


def test_the_loader_does_not_change_what_it_reads(tmp_path: Path) -> None:
    replay = section(tmp_path)
    before = copy.deepcopy(replay)
    record = load_replay_record({"replay": replay})
    assert replay == before
    assert isinstance(record.experiments[0], ExperimentCopy)
