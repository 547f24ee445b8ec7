"""The local stack asks for a checkout and its extra before it builds or starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from refstack.launcher.layout import StackLayout
from refstack.launcher.prerequisites import (
    STACK_MODULES,
    StackPrerequisiteError,
    check_stack_prerequisites,
)


def _layout(root: Path) -> StackLayout:
    return StackLayout(repo_root=root, cache_dir=root / "cache", state_dir=root / "state")


def test_an_installed_package_without_a_checkout_is_told_to_use_one(tmp_path: Path) -> None:
    with pytest.raises(StackPrerequisiteError, match="runs from a chaosgate checkout"):
        check_stack_prerequisites(_layout(tmp_path), module_found=lambda _name: True)


def test_missing_stack_dependencies_are_named_with_the_extra_that_installs_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "refstack" / "services").mkdir(parents=True)
    with pytest.raises(StackPrerequisiteError) as caught:
        check_stack_prerequisites(
            _layout(tmp_path), module_found=lambda name: name not in {"gunicorn", "cryptography"}
        )
    assert "(cryptography, gunicorn)" in str(caught.value)
    assert "pip install -e '.[refstack]'" in str(caught.value)


def test_the_checkout_with_its_extra_passes() -> None:
    check_stack_prerequisites(StackLayout.from_env({}))  # this checkout, bootstrapped
    assert "opentelemetry.sdk" in STACK_MODULES
