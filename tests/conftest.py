"""What plain ``pytest`` does: the unit tests, in a few processes, with few generated inputs.

**Processes.** ``pyproject.toml`` asks pytest-xdist for ``-n auto``, and
:func:`pytest_xdist_auto_num_workers` answers it. With the default marker expression (the unit
tests only) the tests are spread over one process more than the machine has CPUs (many of them
wait on a timeout or a child process, so a 2-core machine keeps three busy). With a ``-m`` of
your own (``-m integration``, or scripts/test's ``-m 'not long'``) it answers 0 and everything
runs in this one process: the integration tests share one local stack per session, which
parallel workers would each start.

**Collection.** With the default marker expression tests/integration is not even imported
(every test there is an integration test, so none of them could be selected; importing them
and their Kubernetes client costs each process about a second). Any run that does collect
that folder refuses a test there without the ``integration`` marker, so that rule cannot
quietly hide a test from plain ``pytest``.

**Hypothesis profiles** for the generated-input tests (tests/unit/test_bad_input.py): ``unit``
(the default): 30 examples a family; ``thorough`` (scripts/test passes
``--hypothesis-profile=thorough``): 150 a family. The tests derandomize, so a run sees the same
examples. They are registered here, in a conftest pytest reads before its plugins configure,
because Hypothesis's plugin loads the profile named on the command line at that point.

**Bytecode** is cached even where the environment says not to (``PYTHONDONTWRITEBYTECODE``, which
some shells and CI images set): without it each xdist process compiles every module it imports
and pytest rewrites the asserts of every test module again, about 3.5 s a process of the
~7.5 s its collection costs, and each ``python -m chaosgate`` a test starts compiles the
package again. The variable is dropped from ``os.environ`` too, before the xdist processes and
the tests' own child processes start. (scripts/test clears it for the same reason.)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

settings.register_profile("unit", max_examples=30)
settings.register_profile("thorough", max_examples=150)
settings.load_profile("unit")


def _default_markexpr(config: pytest.Config) -> str | None:
    """The ``-m`` that pyproject.toml's addopts give (the unit tests only)."""
    addopts: list[str] = config.getini("addopts")
    return addopts[addopts.index("-m") + 1] if "-m" in addopts[:-1] else None


INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def _unit_only(config: pytest.Config) -> bool:
    return bool(config.option.markexpr == _default_markexpr(config))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=("opensearch", "elasticsearch"),
        default="opensearch",
        help="the store of logs and spans the integration tests' local stack runs "
        "(`chaosgate stack up --logs`); scripts/test runs the store tests with each",
    )


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return (os.cpu_count() or 1) + 1 if _unit_only(config) else 0


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path == INTEGRATION_DIR and _unit_only(config):
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = [
        item.nodeid
        for item in items
        if item.path.is_relative_to(INTEGRATION_DIR)
        and item.get_closest_marker("integration") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "tests under tests/integration must carry the 'integration' marker (plain pytest "
            f"does not collect that folder): {', '.join(unmarked)}"
        )


# pytester: tests/unit/test_checks_plugin.py runs pytest sessions of its own with the plugin
pytest_plugins = ("pytester",)
