"""What plain ``pytest`` does: the unit tests, in a few processes, with few generated inputs.

**Processes.** ``pyproject.toml`` asks pytest-xdist for ``-n auto``, and
:func:`pytest_xdist_auto_num_workers` answers it. With the default marker expression (the unit
tests only) the tests are spread over one process more than the machine has CPUs (many of them
wait on a timeout or a child process, so a 2-core machine keeps three busy). With a ``-m`` of
your own (``-m integration``, or scripts/test's ``-m 'not long'``) it answers 0 and everything
runs in this one process: the integration tests share one local stack per session, which
parallel workers would each start.

**Hypothesis profiles** for the generated-input tests (tests/unit/test_bad_input.py): ``unit``
(the default): 30 examples a family; ``thorough`` (scripts/test passes
``--hypothesis-profile=thorough``): 150 a family. The tests derandomize, so a run sees the same
examples. They are registered here, in a conftest pytest reads before its plugins configure,
because Hypothesis's plugin loads the profile named on the command line at that point.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

settings.register_profile("unit", max_examples=30)
settings.register_profile("thorough", max_examples=150)
settings.load_profile("unit")


def _default_markexpr(config: pytest.Config) -> str | None:
    """The ``-m`` that pyproject.toml's addopts give (the unit tests only)."""
    addopts: list[str] = config.getini("addopts")
    return addopts[addopts.index("-m") + 1] if "-m" in addopts[:-1] else None


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    if config.option.markexpr != _default_markexpr(config):
        return 0
    return (os.cpu_count() or 1) + 1
