"""A connection leak on demand: pooled database connections checked out and never returned.

``ConnectionLeak.hold(n)`` makes a background thread check ``n`` connections out of the
service's own pool and keep them until ``hold`` asks for fewer (``hold(0)`` returns them all).
It takes them the way a request does (the pool's checkout, waiting up to DB_POOL_TIMEOUT_S and
trying again while the pool is busy), so with load or without the pool really has ``n`` fewer
connections, and the ``db_pool_in_use`` gauge (read from the pool) counts them. A thread of its
own because the fault outlives any request: it needs none, and must not hold a request's
worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import exc as sa_exc

from restaurant.common.db import Database

__all__ = ["ConnectionLeak"]

_ERROR_BACKOFF_S = 1.0


class ConnectionLeak:
    def __init__(self, database: Database, logger: logging.Logger) -> None:
        self._database = database
        self._logger = logger
        self._changed = threading.Condition()
        self._target = 0
        self._held: list[Any] = []  # the pool's proxied DBAPI connections
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def held(self) -> int:
        with self._changed:
            return len(self._held)

    def hold(self, count: int) -> None:
        """Hold ``count`` connections from now on (0: give every held one back)."""
        if not 0 <= count <= self._database.pool_size:
            raise ValueError(
                f"count {count!r} must be from 0 to the pool size {self._database.pool_size}"
            )
        with self._changed:
            if self._closed:
                return
            self._target = count
            if self._thread is None and count > 0:
                self._thread = threading.Thread(
                    target=self._run, name="db-connection-leak", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def wait_held(self, count: int, timeout_s: float) -> bool:
        """Wait until exactly ``count`` connections are held (tests; the admin call returns at
        once)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while len(self._held) != count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
            return True

    def close(self) -> None:
        """Give everything back and stop the thread (service shutdown, tests)."""
        with self._changed:
            self._closed = True
            self._target = 0
            self._changed.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=self._database.pool_timeout_s + 5)
        self._release(self._take_excess())

    def _take_excess(self) -> list[Any]:
        with self._changed:
            excess = []
            while len(self._held) > self._target:
                excess.append(self._held.pop())
            return excess

    def _release(self, connections: list[Any]) -> None:
        for connection in connections:
            try:
                connection.close()  # back to the pool
            except Exception:  # a broken connection is discarded by the pool anyway
                self._logger.exception("returning a held database connection failed")
        if connections:
            self._logger.warning(
                "db_hold_connections: gave %d pooled connection(s) back, %d still held",
                len(connections),
                self.held,
            )
            with self._changed:
                self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                while len(self._held) == self._target and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                missing = self._target - len(self._held)
            if missing < 0:
                self._release(self._take_excess())
                continue
            self._take_one()

    def _take_one(self) -> None:
        try:
            connection = self._database.engine.raw_connection()
        except sa_exc.TimeoutError:
            return  # the pool is busy: wait again, as a request would
        except sa_exc.SQLAlchemyError:
            self._logger.exception("db_hold_connections: checking a connection out failed")
            time.sleep(_ERROR_BACKOFF_S)
            return
        with self._changed:
            kept = len(self._held) < self._target and not self._closed
            if kept:
                self._held.append(connection)
                self._changed.notify_all()
            target = self._target
            full = len(self._held) == target
        if not kept:  # asked for fewer meanwhile
            connection.close()
        elif full:
            self._logger.warning(
                "db_hold_connections: holding %d of the pool's %d connections (a leak)",
                target,
                self._database.pool_size,
            )
