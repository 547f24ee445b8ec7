from __future__ import annotations

from pathlib import Path

import pytest

from chaosgate.run.profiles import PROFILES, ProfileError, resolve_profile


def test_every_profile_names_existing_experiments() -> None:
    for profile in PROFILES.values():
        for path in profile.experiment_paths():
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
