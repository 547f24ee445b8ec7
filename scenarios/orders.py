"""Orders as the load sees them: random order bodies and the kitchen's in-process ticket queue.

Customers put the orders they place on the :class:`TicketQueue`; kitchen staff take a ticket,
move its order one status along accepted → preparing → ready → served and put it back until
it is served. The queue is per Locust process (greenlets share it without locks) and bounded:
when the kitchen falls behind, the oldest tickets are dropped.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FALLBACK_MENU_IDS",
    "NEXT_STATUS",
    "STATUSES",
    "Ticket",
    "TicketQueue",
    "menu_ids",
    "random_order",
]

STATUSES = ("accepted", "preparing", "ready", "served")
NEXT_STATUS: dict[str, str] = dict(itertools.pairwise(STATUSES))
FALLBACK_MENU_IDS = tuple(range(1, 11))  # the reference stack's menu, when none was read
TABLES = 30


@dataclass(frozen=True)
class Ticket:
    order_id: int
    status: str = STATUSES[0]


class TicketQueue:
    def __init__(self, maxlen: int = 200) -> None:
        self._tickets: deque[Ticket] = deque(maxlen=maxlen)

    def put(self, ticket: Ticket) -> None:
        if ticket.status in NEXT_STATUS:
            self._tickets.append(ticket)

    def take(self) -> Ticket | None:
        return self._tickets.popleft() if self._tickets else None

    def __len__(self) -> int:
        return len(self._tickets)


def menu_ids(body: Any) -> tuple[int, ...]:
    """The dish ids of a ``GET /api/menu`` answer (``{"items": [{"id": ...}, ...]}``)."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return ()
    return tuple(
        item["id"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("id"), int) and item["id"] >= 1
    )


def random_order(
    rng: random.Random, dishes: Sequence[int], *, user_id: int | None = None
) -> dict[str, Any]:
    """A ``POST /api/orders`` body: a table and 1-5 distinct dishes, 1-3 of each."""
    dishes = dishes or FALLBACK_MENU_IDS
    count = rng.randint(1, min(5, len(dishes)))
    body: dict[str, Any] = {
        "table": rng.randint(1, TABLES),
        "items": [
            {"menu_id": dish, "quantity": rng.randint(1, 3)} for dish in rng.sample(dishes, count)
        ],
    }
    if user_id is not None:
        body["user_id"] = user_id
    return body
