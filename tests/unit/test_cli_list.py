"""`chaosgate list profiles|experiments`: what the installed package can run, per kind of chaos."""

from __future__ import annotations

import json

import pytest

from chaosgate.cli import main
from chaosgate.run.profiles import EXPERIMENT_DIRS, profiles_for


def test_profiles_lists_every_profile_of_the_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "profiles", "--chaos", "kubernetes"]) == 0
    printed = capsys.readouterr().out
    for name, profile in profiles_for("kubernetes").items():
        assert name in printed
        assert f"{profile.duration_s} s" in printed


def test_experiments_names_each_file_and_its_expected_alerts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["list", "experiments", "--target", "local"]) == 0
    printed = capsys.readouterr().out
    files = sorted(EXPERIMENT_DIRS["local"].glob("*.json"))
    assert len(files) > 10
    for path in files:
        extension = next(
            item
            for item in json.loads(path.read_text())["extensions"]
            if item["name"] == "chaosgate"
        )
        assert f" {path.stem} " in printed
        for alert in extension["expected_alerts"]:  # a cell may wrap: names are whole words
            assert f"{alert['alertname']} ({alert.get('deadline_s', 30):g} s)" in printed


def test_an_unknown_kind_of_chaos_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "experiments", "--chaos", "docker"]) == 2
    err = capsys.readouterr().err
    assert "'docker' is not a kind of chaos; use one of local, kubernetes" in err
    assert err.count("\n") == 1
