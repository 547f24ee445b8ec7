"""A load started by ``chaosgate run`` ends when its runner is gone, even after a SIGKILL.

The runner stops Locust itself when it ends or is interrupted; a runner killed with SIGKILL
(or a machine's OOM killer) cannot. Every Locust process of such a load (the master and the
workers ``--processes`` forks) remembers its parent at start and checks it once a second: when
the process has been re-parented (its parent died), it stops its users and quits, and exits
for good a few seconds later if quitting hangs. No ``prctl(PR_SET_PDEATHSIG)``: the kernel
clears that in forked children, and Locust forks its workers after start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import gevent
from locust.env import Environment
from locust.event import Events

from chaosgate.vocabulary import EXIT_SIGTERM
from scenarios.recorder import listen

__all__ = ["watch_parent"]

CHECK_EVERY_S = 1.0
EXIT_AFTER_S = 5.0
logger = logging.getLogger(__name__)


def _watch(
    environment: Environment, parent: int, getppid: Callable[[], int], sleep: Callable[[float], Any]
) -> None:
    while getppid() == parent:
        sleep(CHECK_EVERY_S)
    logger.warning("chaosgate load: the runner (pid %d) is gone; stopping the load", parent)
    if environment.runner is not None:
        gevent.spawn_later(EXIT_AFTER_S, os._exit, EXIT_SIGTERM)
        environment.runner.quit()
    else:
        os._exit(EXIT_SIGTERM)


def watch_parent(events: Events, *, getppid: Callable[[], int] = os.getppid) -> None:
    """Install the watch on ``events.init`` (it fires in every process, after the fork)."""

    def start(environment: Environment, **_: Any) -> None:
        gevent.spawn(_watch, environment, getppid(), getppid, gevent.sleep)

    listen(events.init, start)
