"""The users database (SQLAlchemy Core): a user has a name and a unique e-mail address."""

from __future__ import annotations

from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, insert, select
from sqlalchemy import exc as sa_exc

from restaurant.common.errors import ApiError

__all__ = ["create_user", "get_user", "prepare_database"]

metadata = MetaData()
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("email", String(254), nullable=False, unique=True),
    Column("created_at", String(32), nullable=False),
)


def prepare_database(engine: Engine) -> None:
    with suppress_instrumentation(), engine.begin() as conn:
        metadata.create_all(conn)


def create_user(conn: Connection, *, name: str, email: str, now: str) -> dict[str, Any]:
    """A duplicate e-mail address (compared lowercased) is a 409."""
    taken = conn.execute(select(users.c.id).where(users.c.email == email)).scalar()
    if taken is not None:
        raise ApiError(409, f"e-mail {email!r} is already registered (user {taken})")
    try:
        user_id = conn.execute(
            insert(users).values(name=name, email=email, created_at=now).returning(users.c.id)
        ).scalar_one()
    except sa_exc.IntegrityError:
        raise ApiError(409, f"e-mail {email!r} is already registered") from None
    return get_user(conn, int(user_id))


def get_user(conn: Connection, user_id: int) -> dict[str, Any]:
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    if row is None:
        raise ApiError(404, f"no user {user_id}")
    return dict(row)
