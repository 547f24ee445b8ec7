"""The database: a SQLAlchemy engine with a bounded pool, one pooled connection per request.

The pool is a ``QueuePool`` of ``DB_POOL_SIZE`` connections with no overflow; a request that
waits longer than ``DB_POOL_TIMEOUT_S`` for one answers 503 and logs why. The pool gauges of
refstack/CONTRACT.md are read from the pool itself at scrape time.

SQLite is set up for many threads: connections may cross threads, WAL journal, a busy timeout,
and write transactions start with ``BEGIN IMMEDIATE`` (a deferred transaction that later
writes can fail at once under concurrent writers instead of waiting for the lock).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, Response, g
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import QueuePool

from restaurant.common.errors import error_response

__all__ = ["BUSY_TIMEOUT_S", "Database", "PoolCollector", "install_database"]

BUSY_TIMEOUT_S = 5.0
_CONNECTION_KEY = "restaurant_db_connection"
_WRITE_OPTION = "restaurant_write"


class Database:
    """An engine plus the request-scoped connection; ``transaction()`` is how handlers use it."""

    def __init__(self, url: str, *, pool_size: int, pool_timeout_s: float) -> None:
        self.pool_size = pool_size
        self.pool_timeout_s = pool_timeout_s
        sqlite = url.startswith("sqlite")
        self.engine: Engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=pool_timeout_s,
            pool_pre_ping=False,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_S} if sqlite else {},
        )
        if sqlite:
            _configure_sqlite(self.engine)

    @property
    def pool(self) -> QueuePool:
        pool = self.engine.pool
        assert isinstance(pool, QueuePool)
        return pool

    def connection(self) -> Connection:
        """This request's pooled connection, checked out on first use and returned at teardown.

        Raises ``sqlalchemy.exc.TimeoutError`` when the pool stays exhausted for the timeout.
        """
        conn = g.get(_CONNECTION_KEY)
        if isinstance(conn, Connection):
            return conn
        conn = self.engine.connect()
        setattr(g, _CONNECTION_KEY, conn)
        return conn

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Connection]:
        """Commit on success, roll back on error; ``write`` takes SQLite's write lock up front."""
        conn = self.connection()
        if conn.in_transaction():
            conn.rollback()
        conn.execution_options(**{_WRITE_OPTION: write})
        with conn.begin():
            yield conn

    def release(self) -> None:
        """Return this request's connection to the pool (rolling back what was not committed)."""
        conn = g.pop(_CONNECTION_KEY, None)
        if isinstance(conn, Connection):
            conn.close()

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" event emits BEGIN instead
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = bool(conn.get_execution_options().get(_WRITE_OPTION))
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            "BEGIN IMMEDIATE" if immediate else "BEGIN"
        )


class PoolCollector(Collector):
    """``db_pool_*`` gauges, read from the live pool on every scrape."""

    def __init__(self, service: str, database: Database) -> None:
        self._service = service
        self._database = database

    def collect(self) -> Iterable[Metric]:
        pool = self._database.pool
        size = pool.size()
        in_use = pool.checkedout()
        values = {
            "db_pool_size": ("Connections the pool keeps (DB_POOL_SIZE).", size),
            "db_pool_in_use": ("Connections checked out now.", in_use),
            "db_pool_connections": (
                "Connections open, idle plus in use.",
                in_use + pool.checkedin(),
            ),
            "db_pool_max_connections": ("The most connections the pool will open.", size),
        }
        for name, (documentation, value) in values.items():
            family = GaugeMetricFamily(name, documentation, labels=["service"])
            family.add_metric([self._service], value)
            yield family


def install_database(app: Flask, database: Database, logger: logging.Logger) -> None:
    """Return the connection after every request; answer 503 when the pool is exhausted."""

    @app.teardown_request
    def _release_connection(_exc: BaseException | None) -> None:
        database.release()

    @app.errorhandler(sa_exc.TimeoutError)
    def _pool_exhausted(exc: sa_exc.TimeoutError) -> Response:
        pool = database.pool
        logger.error(
            "database pool exhausted: no connection free within %.3f s "
            "(size %d, in use %d); answering 503",
            database.pool_timeout_s,
            pool.size(),
            pool.checkedout(),
        )
        return error_response(503, "database unavailable: connection pool exhausted")

    @app.errorhandler(sa_exc.OperationalError)
    def _database_error(exc: sa_exc.OperationalError) -> Response:
        logger.error("database error: %s; answering 503", exc.orig)
        return error_response(503, "database unavailable")
