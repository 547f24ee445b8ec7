"""Restaurant guests: each visit browses the menu, registers, orders, pays and watches the order.

Every placed order also goes on the kitchen's ticket queue (:data:`scenarios.kitchen.TICKETS`).
"""

from __future__ import annotations

import uuid

from locust import between, task

from scenarios.base import TracedUser
from scenarios.kitchen import TICKETS
from scenarios.orders import Ticket, menu_ids, random_order

__all__ = ["Customer"]

FIRST_NAMES = ("Ada", "Bruno", "Chiara", "Dmitri", "Elif", "Farid", "Grace", "Hugo", "Ines")
PAYMENT_METHODS = ("card", "cash", "mobile")


class Customer(TracedUser):
    weight = 3
    wait_time = between(0.5, 2.0)

    @task
    def visit(self) -> None:
        menu = self.call("GET", "/api/menu")
        if not menu.ok:
            return
        self.pause()
        name = self.rng.choice(FIRST_NAMES)
        # unique on every run, seeded or not: the users service refuses a second registration
        email = f"{name.lower()}.{uuid.uuid4().hex[:16]}@guests.example.com"
        user = self.call("POST", "/api/users", json={"name": name, "email": email})
        user_id = user.body.get("id") if user.ok and isinstance(user.body, dict) else None
        self.pause()
        body = random_order(self.rng, menu_ids(menu.body), user_id=user_id)
        order = self.call("POST", "/api/orders", json=body)
        if not (order.ok and isinstance(order.body, dict)):
            return
        order_id = order.body["id"]
        TICKETS.put(Ticket(order_id, order.body.get("status", "accepted")))
        self.pause()
        self.call(
            "POST",
            "/api/orders/{id}/payment",
            id=order_id,
            json={
                "amount_cents": order.body["total_cents"],
                "method": self.rng.choice(PAYMENT_METHODS),
            },
        )
        for _ in range(self.rng.randint(1, 3)):
            self.pause()
            status = self.call("GET", "/api/orders/{id}", id=order_id)
            if isinstance(status.body, dict) and status.body.get("status") == "served":
                break
