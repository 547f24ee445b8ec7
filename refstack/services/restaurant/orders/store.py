"""The orders database: menu, orders, their items and payments (SQLAlchemy Core).

Functions take the request's connection inside a transaction and raise ``ApiError`` with the
HTTP status the caller answers (400 invalid, 404 unknown order, 409 conflict).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    func,
    insert,
    select,
    update,
)

from restaurant.common.errors import ApiError

__all__ = [
    "MENU",
    "NEXT_STATUS",
    "STATUSES",
    "advance_status",
    "create_order",
    "get_order",
    "list_menu",
    "pay_order",
    "prepare_database",
]

metadata = MetaData()
menu = Table(
    "menu",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("price_cents", Integer, nullable=False),
)
orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("table_no", Integer, nullable=False),
    Column("user_id", Integer, nullable=True),
    Column("status", String(16), nullable=False),
    Column("total_cents", Integer, nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("updated_at", String(32), nullable=False),
)
order_items = Table(
    "order_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, index=True),
    Column("menu_id", Integer, ForeignKey("menu.id"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("price_cents", Integer, nullable=False),
)
payments = Table(
    "payments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Integer, ForeignKey("orders.id"), nullable=False, unique=True),
    Column("amount_cents", Integer, nullable=False),
    Column("method", String(32), nullable=False),
    Column("created_at", String(32), nullable=False),
)

MENU: tuple[tuple[int, str, int], ...] = (
    (1, "margherita pizza", 1150),
    (2, "spaghetti carbonara", 1390),
    (3, "caesar salad", 950),
    (4, "grilled salmon", 1890),
    (5, "beef burger", 1450),
    (6, "vegetable curry", 1250),
    (7, "tomato soup", 650),
    (8, "tiramisu", 720),
    (9, "lemonade", 390),
    (10, "espresso", 280),
)
STATUSES = ("accepted", "preparing", "ready", "served")
NEXT_STATUS = dict(itertools.pairwise(STATUSES))


def prepare_database(engine: Engine) -> None:
    """Create the tables and seed the menu (idempotent; no spans: nothing traced asked for it)."""
    with suppress_instrumentation(), engine.begin() as conn:
        metadata.create_all(conn)
        if conn.execute(select(func.count()).select_from(menu)).scalar_one() == 0:
            conn.execute(
                insert(menu),
                [{"id": i, "name": name, "price_cents": price} for i, name, price in MENU],
            )


def list_menu(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(menu).order_by(menu.c.id)).mappings()
    return [dict(row) for row in rows]


def create_order(
    conn: Connection,
    *,
    table: int,
    items: Sequence[tuple[int, int]],
    user_id: int | None,
    now: str,
) -> dict[str, Any]:
    """``items`` are (menu_id, quantity); an unknown menu id is a 400."""
    wanted = sorted({menu_id for menu_id, _ in items})
    prices = {
        row.id: row.price_cents
        for row in conn.execute(select(menu.c.id, menu.c.price_cents).where(menu.c.id.in_(wanted)))
    }
    missing = [menu_id for menu_id in wanted if menu_id not in prices]
    if missing:
        raise ApiError(
            400, f"unknown menu id {missing[0]!r}; GET /api/menu lists the dishes and their ids"
        )
    total = sum(prices[menu_id] * quantity for menu_id, quantity in items)
    order_id = conn.execute(
        insert(orders)
        .values(
            table_no=table,
            user_id=user_id,
            status=STATUSES[0],
            total_cents=total,
            created_at=now,
            updated_at=now,
        )
        .returning(orders.c.id)
    ).scalar_one()
    conn.execute(
        insert(order_items),
        [
            {"order_id": order_id, "menu_id": m, "quantity": q, "price_cents": prices[m]}
            for m, q in items
        ],
    )
    return _load(conn, int(order_id))


def get_order(conn: Connection, order_id: int) -> dict[str, Any]:
    return _load(conn, order_id)


def advance_status(conn: Connection, order_id: int, status: str, *, now: str) -> dict[str, Any]:
    """Only one step along accepted → preparing → ready → served; anything else is a 409."""
    if status not in STATUSES:
        raise ApiError(400, f"'status' must be one of {', '.join(STATUSES)}, got {status!r}")
    current = _status(conn, order_id)
    if NEXT_STATUS.get(current) != status:
        allowed = NEXT_STATUS.get(current)
        hint = f"the next status is {allowed!r}" if allowed else "it is already served"
        raise ApiError(409, f"order {order_id} is {current!r} and cannot become {status!r}; {hint}")
    changed = conn.execute(
        update(orders)
        .where(orders.c.id == order_id, orders.c.status == current)
        .values(status=status, updated_at=now)
    ).rowcount
    if changed != 1:
        raise ApiError(409, f"order {order_id} changed status meanwhile; read it and retry")
    return _load(conn, order_id)


def pay_order(
    conn: Connection, order_id: int, *, amount_cents: int, method: str, now: str
) -> dict[str, Any]:
    """Pay the exact total, once: a wrong amount is a 400, a second payment a 409."""
    order = _load(conn, order_id)
    if order["paid"]:
        raise ApiError(409, f"order {order_id} is already paid")
    if amount_cents != order["total_cents"]:
        raise ApiError(
            400,
            f"'amount_cents' is {amount_cents!r} but order {order_id} totals "
            f"{order['total_cents']}; pay the exact total",
        )
    conn.execute(
        insert(payments).values(
            order_id=order_id, amount_cents=amount_cents, method=method, created_at=now
        )
    )
    return _load(conn, order_id)


def _status(conn: Connection, order_id: int) -> str:
    status = conn.execute(select(orders.c.status).where(orders.c.id == order_id)).scalar()
    if status is None:
        raise ApiError(404, f"no order {order_id}")
    return str(status)


def _load(conn: Connection, order_id: int) -> dict[str, Any]:
    row = conn.execute(select(orders).where(orders.c.id == order_id)).mappings().first()
    if row is None:
        raise ApiError(404, f"no order {order_id}")
    items = conn.execute(
        select(
            order_items.c.menu_id, menu.c.name, order_items.c.quantity, order_items.c.price_cents
        )
        .join(menu, menu.c.id == order_items.c.menu_id)
        .where(order_items.c.order_id == order_id)
        .order_by(order_items.c.id)
    ).mappings()
    payment = (
        conn.execute(
            select(payments.c.amount_cents, payments.c.method, payments.c.created_at).where(
                payments.c.order_id == order_id
            )
        )
        .mappings()
        .first()
    )
    return _order_json(
        dict(row), [dict(item) for item in items], dict(payment) if payment is not None else None
    )


def _order_json(
    row: Mapping[str, Any], items: list[dict[str, Any]], payment: Mapping[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "table": row["table_no"],
        "user_id": row["user_id"],
        "status": row["status"],
        "items": items,
        "total_cents": row["total_cents"],
        "paid": payment is not None,
        "payment": dict(payment) if payment is not None else None,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
