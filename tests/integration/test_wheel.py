"""The built wheel, installed in a fresh virtualenv and run from a directory that is not the
checkout: it lists its profiles and experiments, validates a target file and plans a run from
it, and says in one line that the reference stack's commands need a checkout. The smoke run
in tests/integration/test_gate_runs.py is made by this same installed chaosgate, followed by
``report`` and ``replay --dry-run`` of its run folder.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.wheel import REPO_ROOT, InstalledWheel

pytestmark = pytest.mark.integration

# no CHAOSGATE_* setting, no PYTHONPATH, no virtualenv on the PATH: nothing of the checkout
BARE_ENV = {"PATH": "/usr/bin:/bin"}


def _chaosgate(wheel: InstalledWheel, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(wheel.chaosgate), *args],
        cwd=cwd,
        env=BARE_ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_installed_package_is_the_wheels_not_the_checkouts(
    wheel_chaosgate: InstalledWheel, outside: Path
) -> None:
    proc = subprocess.run(
        [str(wheel_chaosgate.python), "-c",
         "import chaosgate, scenarios, assertions; "
         "print(chaosgate.__file__, scenarios.__file__, assertions.__file__)"],
        cwd=outside, env=BARE_ENV,
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    for module_file in proc.stdout.split():
        path = Path(module_file).resolve()
        assert path.is_relative_to(wheel_chaosgate.venv.resolve()), path
        assert not path.is_relative_to(REPO_ROOT), path


def test_it_lists_its_profiles_and_experiments(
    wheel_chaosgate: InstalledWheel, outside: Path
) -> None:
    profiles = _chaosgate(wheel_chaosgate, outside, "list", "profiles")
    assert profiles.returncode == 0, profiles.stderr
    for name in ("smoke", "gate", "nightly"):
        assert name in profiles.stdout
    experiments = _chaosgate(wheel_chaosgate, outside, "list", "experiments")
    assert experiments.returncode == 0, experiments.stderr
    assert "kill-users" in experiments.stdout
    k8s = _chaosgate(wheel_chaosgate, outside, "list", "experiments", "--target", "local-k8s")
    assert k8s.returncode == 0, k8s.stderr
    assert "kill-iot-pods" in k8s.stdout and "kill-users " not in k8s.stdout


def test_it_validates_a_target_file_and_plans_a_run_from_it(
    wheel_chaosgate: InstalledWheel, outside: Path, target_file: Path
) -> None:
    valid = _chaosgate(wheel_chaosgate, outside, "validate", "--target", str(target_file))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    plan = _chaosgate(wheel_chaosgate, outside, "run", "--dry-run", "--profile", "smoke",
                      "--target", str(target_file))  # fmt: skip
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "kill-users" in plan.stdout  # the packaged experiment the smoke profile plays
    broken = outside / "broken.yml"
    broken.write_text("gateway_url: [not, a, url]\n")
    refused = _chaosgate(wheel_chaosgate, outside, "validate", "--target", str(broken))
    assert refused.returncode == 2 and refused.stderr.startswith("chaosgate: error:")
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr


def test_the_stack_commands_say_in_one_line_that_they_need_a_checkout(
    wheel_chaosgate: InstalledWheel, outside: Path
) -> None:
    proc = _chaosgate(wheel_chaosgate, outside, "stack", "up")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chaosgate: error:"), proc.stderr
    assert "checkout" in lines[0]
