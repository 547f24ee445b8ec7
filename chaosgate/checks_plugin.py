"""A pytest plugin for a team's own checks of a finished run (registered as ``pytest11``).

``pytest --chaosgate-run reports/<run-id> checks/`` runs ordinary test functions against that
run; their fixtures hold what chaosgate's own checks have:

- ``chaosgate_run``: the run (:class:`~chaosgate.finished_run.FinishedRun`: ``summary``,
  ``settings``, ``seed``, ``experiments`` with their fault windows and expected alerts,
  ``ledger(scenario=, route=, since=, until=, in_faults=)``);
- ``chaosgate_ledger``: every request of the run (``LedgerEntry``, in start order);
- ``chaosgate_fault_windows``: when each fault was in force (``FaultWindow``);
- ``chaosgate_backends``: ready clients for the target's backends (``--chaosgate-target``,
  default ``local``): the same ``assertions.backends`` classes the built-in checks use
  (``.jaeger``, ``.elasticsearch``, ``.prometheus``, ``.alertmanager``, ``.sink``,
  ``.span_store``, ...).

Helpers a check needs: :func:`poll_until` (ask again until a deadline) and :func:`batched`
(ids in groups a backend takes at once). allure-pytest, when no ``--alluredir`` is given,
writes into the run's own ``allure-results/``. Without ``--chaosgate-run`` the plugin does
nothing, and a test that asks for one of its fixtures errors saying what to pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from chaosgate.finished_run import FinishedRun
    from chaosgate.run.backends import RunBackends
    from chaosgate.vocabulary import FaultWindow, LedgerEntry

# Loaded into every pytest session of an environment chaosgate is installed in (pytest11), so
# it imports nothing of chaosgate until a fixture of it is asked for.

__all__ = ["CheckTimeout", "batched", "poll_until"]

T = TypeVar("T")
_RUN_OPTION = "--chaosgate-run"
_HTTP_TIMEOUT_S = 10.0


class CheckTimeout(AssertionError):
    """:func:`poll_until` gave up: the message says what was awaited and what was last seen."""


def poll_until(
    probe: Callable[[], T | None],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``probe`` every ``interval_s`` until it returns something truthy, and return it;
    after ``timeout_s`` fail the test with :class:`CheckTimeout` naming ``what`` and the last
    value seen."""
    deadline = clock() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if clock() >= deadline:
            raise CheckTimeout(f"{what}: not within {timeout_s:g} s (last seen: {value!r})")
        sleep(interval_s)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"size {size!r} is not positive; give at least 1")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaosgate", "chaosgate: a team's checks of a finished run")
    group.addoption(
        _RUN_OPTION,
        metavar="RUN_DIR",
        help="the finished run the checks judge (reports/<run-id>/)",
    )
    group.addoption(
        "--chaosgate-target",
        metavar="TARGET",
        default=None,
        help="where the backends are: 'local' (the default), 'local-k8s' or a target file",
    )


def _run_dir(config: pytest.Config) -> Path | None:
    given = config.getoption(_RUN_OPTION)
    return None if given is None else Path(given)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    run_dir = _run_dir(config)
    if run_dir is None:
        return
    if not (run_dir / "summary.json").is_file():
        raise pytest.UsageError(
            f"{_RUN_OPTION} {run_dir}: no summary.json there; give a run folder such as "
            "reports/<run-id>/"
        )
    # allure-pytest reads its directory in its own pytest_configure, after this one
    if hasattr(config.option, "allure_report_dir") and not config.option.allure_report_dir:
        config.option.allure_report_dir = str(run_dir / "allure-results")


@pytest.fixture(scope="session")
def chaosgate_run(pytestconfig: pytest.Config) -> FinishedRun:
    run_dir = _run_dir(pytestconfig)
    if run_dir is None:
        raise pytest.UsageError(
            f"this check needs a finished run: pytest {_RUN_OPTION} reports/<run-id> ..."
        )
    from chaosgate.finished_run import read_finished_run
    from chaosgate.report.run_folder import RunFolderError

    try:
        return read_finished_run(run_dir)
    except RunFolderError as exc:
        raise pytest.UsageError(f"{_RUN_OPTION} {run_dir}: {exc}") from exc


@pytest.fixture(scope="session")
def chaosgate_ledger(chaosgate_run: FinishedRun) -> Sequence[LedgerEntry]:
    return chaosgate_run.folder.ledger


@pytest.fixture(scope="session")
def chaosgate_fault_windows(chaosgate_run: FinishedRun) -> Sequence[FaultWindow]:
    return chaosgate_run.fault_windows


@pytest.fixture(scope="session")
def chaosgate_backends(pytestconfig: pytest.Config) -> Iterator[RunBackends]:
    import requests

    from chaosgate.cli_common import load_target
    from chaosgate.http_clients import new_http_client
    from chaosgate.run.backends import build_backends
    from chaosgate.target import TargetError

    try:
        target = load_target(pytestconfig.getoption("--chaosgate-target"), None)
    except TargetError as exc:
        raise pytest.UsageError(f"--chaosgate-target: {exc}") from exc
    es_tls = target.elasticsearch.verify_tls
    with (
        new_http_client(_HTTP_TIMEOUT_S) as http,
        new_http_client(_HTTP_TIMEOUT_S, verify_tls=es_tls) as es_http,
        requests.Session() as session,
    ):
        yield build_backends(target, http, es_http, session)
