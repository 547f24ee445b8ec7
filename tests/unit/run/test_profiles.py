from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from chaosgate.chaos.experiments import chaosgate_extension, load_experiment
from chaosgate.run.profiles import (
    EXPERIMENT_DIRS,
    KUBERNETES_PROFILES,
    MAX_DURATION_S,
    MAX_USERS,
    OWN_PROFILE_EXPERIMENTS,
    PROFILES,
    Profile,
    ProfileError,
    profiles_for,
    resolve_profile,
)
from chaosgate.run.reports_dir import check_reports_dir

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_every_profile_names_existing_experiments() -> None:
    assert {"smoke", "gate", "nightly"} <= set(PROFILES)
    for profile in PROFILES.values():
        paths = profile.experiment_paths()
        assert paths, f"{profile.name} runs no experiment"
        for path in paths:
            assert path.is_file(), f"{profile.name}: {path}"


def test_smoke_is_short_and_gate_is_longer() -> None:
    assert PROFILES["smoke"].duration_s <= 120
    assert (
        PROFILES["smoke"].duration_s < PROFILES["gate"].duration_s < PROFILES["nightly"].duration_s
    )


def test_overrides_apply() -> None:
    profile = resolve_profile(
        "gate",
        users=3,
        duration_s=30,
        seed=9,
        scenarios=["Customer"],
        experiments=["gateway-latency"],
    )
    assert (profile.users, profile.duration_s, profile.seed) == (3, 30, 9)
    assert profile.scenarios == ("Customer",)
    assert [p.name for p in profile.experiment_paths()] == ["gateway-latency.json"]


def test_an_experiment_path_outside_the_folder_is_taken(tmp_path: Path) -> None:
    own = tmp_path / "mine.json"
    own.write_text("{}")
    profile = resolve_profile("smoke", experiments=[str(own)])
    assert profile.experiment_paths() == [own.resolve()]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "weekly"}, "unknown profile"),
        ({"name": "smoke", "users": 0}, "--users 0"),
        ({"name": "smoke", "duration_s": 5}, "--duration 5"),
        ({"name": "smoke", "scenarios": ["Chef"]}, "--scenario 'Chef'"),
        ({"name": "smoke", "experiments": ["nope"]}, "--experiment 'nope'"),
    ],
)
def test_bad_overrides_name_the_option(kwargs: dict[str, object], fragment: str) -> None:
    name = str(kwargs.pop("name"))
    with pytest.raises(ProfileError, match=fragment):
        resolve_profile(name, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"users": 0}, "--users 0: out of range; give a number of users from 1 to 10000"),
        ({"users": 10**23}, "--users 100000000000000000000000: out of range; give a number of"),
        ({"duration_s": 10**12}, "--duration 1000000000000: out of range; give seconds of load"),
        ({"seed": -5}, "--seed -5: out of range; give a seed from 0 to 9223372036854775807"),
        ({"seed": 10**60}, "--seed 1000000000000000000000000000000000000...: out of range"),
    ],
)
def test_numbers_have_bounds_and_the_error_names_them(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ProfileError) as info:
        resolve_profile("smoke", **kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)
    assert resolve_profile("smoke", users=MAX_USERS, duration_s=MAX_DURATION_S).users == MAX_USERS


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ("", "is empty"),
        (" ", "is empty"),
        (".", "is a directory, not an experiment file"),
        ("/", "is a directory, not an experiment file"),
        ("..", "is a directory, not an experiment file"),
        ("/dev/zero", "is a character device, not an experiment file"),
        ("FIFO", "is a FIFO (named pipe), not an experiment file"),
        ("nul\x00.json", "no such experiment file"),
        ("[/x]", "no such experiment file"),
    ],
)
def test_an_experiment_that_names_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, item: str, reason: str
) -> None:
    if item == "FIFO":  # a short relative name: a long value is shortened in the message
        monkeypatch.chdir(tmp_path)
        item = "pipe.json"
        os.mkfifo(item)
    with pytest.raises(ProfileError) as info:
        resolve_profile("smoke", experiments=[item])
    assert str(info.value).startswith(f"--experiment {item!r}: {reason}; give a path or a name")


def test_reports_must_be_a_writable_directory(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert check_reports_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # the check creates nothing
    with pytest.raises(ProfileError, match=r"is a regular file, not a directory; give a dir"):
        check_reports_dir(afile)
    with pytest.raises(ProfileError, match=r"is inside '.*afile', which is a regular file"):
        check_reports_dir(afile / "sub")
    with pytest.raises(ProfileError, match=r"'/dev/null': is a character device, not a dir"):
        check_reports_dir(Path("/dev/null"))
    with pytest.raises(ProfileError, match=r"'/proc/x': cannot write in '/proc' \("):
        check_reports_dir(Path("/proc/x"))


# --- Kubernetes profiles ---------------------------------------------------------------------

K8S_DIR = EXPERIMENT_DIRS["kubernetes"]


def _least_seconds(path: Path) -> float:
    """How long an experiment takes at least: its pauses (probes and actions take more)."""
    experiment = json.loads(path.read_text())
    activities = [*experiment["method"], *experiment.get("rollbacks", [])]
    return float(sum(sum(a.get("pauses", {}).values()) for a in activities))


def test_kubernetes_profiles_name_their_experiments() -> None:
    assert set(KUBERNETES_PROFILES) == set(PROFILES) - {"log-flood"}  # a local stack's flood
    every = sorted(path.name for path in K8S_DIR.glob("*.json"))
    assert KUBERNETES_PROFILES["smoke"].experiments == ("kill-users-pods.json",)
    assert set(KUBERNETES_PROFILES["gate"].experiments) < set(every)
    assert sorted(KUBERNETES_PROFILES["nightly"].experiments) == every
    for profile in KUBERNETES_PROFILES.values():
        assert profile.chaos == "kubernetes"
        for path in profile.experiment_paths():
            assert path.parent == K8S_DIR and path.is_file(), f"{profile.name}: {path}"


@pytest.mark.parametrize("name", ["smoke", "gate", "nightly"])
def test_kubernetes_profiles_leave_room_for_every_fault_and_its_recovery(name: str) -> None:
    profile = KUBERNETES_PROFILES[name]
    paths = profile.experiment_paths()
    # each experiment needs its pauses plus ~10 s of probes, waits and pod starts
    busy = sum(_least_seconds(path) + 10 for path in paths)
    needed = profile.chaos_start_s + busy + profile.recovery_s * (len(paths) - 1)
    assert profile.duration_s >= needed + 20, (profile.duration_s, needed)  # + a tail
    assert profile.recovery_s >= 15


def test_the_chaos_kind_picks_the_profile_and_the_experiment_folder() -> None:
    assert resolve_profile("gate") == PROFILES["gate"]
    assert resolve_profile("gate", chaos="kubernetes") == KUBERNETES_PROFILES["gate"]
    assert profiles_for("kubernetes") is KUBERNETES_PROFILES
    profile = resolve_profile("smoke", chaos="kubernetes", experiments=["saturate-node-cpu"])
    assert profile.experiment_paths() == [(K8S_DIR / "saturate-node-cpu.json").resolve()]
    with pytest.raises(ProfileError, match=r"--experiment 'kill-users-service'.*kill-orders-pod"):
        resolve_profile("smoke", chaos="kubernetes", experiments=["kill-users-service"])


@pytest.mark.parametrize("profiles", [PROFILES, KUBERNETES_PROFILES], ids=["local", "k8s"])
def test_the_nightly_runs_every_experiment_and_requires_every_rule(
    profiles: Mapping[str, Profile],
) -> None:
    nightly = profiles["nightly"]
    directory = EXPERIMENT_DIRS[nightly.chaos]
    every = {p.name for p in directory.glob("*.json")} - set(OWN_PROFILE_EXPERIMENTS)
    assert sorted(nightly.experiments) == sorted(every)
    for name in OWN_PROFILE_EXPERIMENTS:  # each has its profile instead
        assert any(p.experiments == (name,) for p in PROFILES.values()), name
    assert nightly.alert_coverage == "all"


def _expected_names(path: Path) -> set[str]:
    extension = chaosgate_extension(load_experiment(path), source=str(path))
    return {alert.alertname for alert in extension.expected_alerts}


@pytest.mark.parametrize("profiles", [PROFILES, KUBERNETES_PROFILES], ids=["local", "k8s"])
def test_the_gate_requires_the_critical_rules_its_experiments_prove(
    profiles: Mapping[str, Profile],
) -> None:
    gate = profiles["gate"]
    rules = yaml.safe_load((REPO_ROOT / "refstack" / "prometheus" / "rules.yml").read_text())
    critical = {
        rule["alert"]
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("labels", {}).get("severity") == "critical"
    }
    expected = set().union(*(_expected_names(path) for path in gate.experiment_paths()))
    assert isinstance(gate.alert_coverage, tuple)
    required = set(gate.alert_coverage)
    assert required <= critical and required <= expected
    # every critical rule but the crash loop (its proof takes ~6 minutes: the nightly's)
    assert critical - required == {"PodCrashLooping"}
