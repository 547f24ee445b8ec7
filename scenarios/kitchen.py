"""Kitchen staff: move orders along accepted → preparing → ready → served, one step per task.

They take tickets from :data:`TICKETS`, the queue Customers in this process fill; when it is
empty they take an order themselves (a walk-in guest) so the kitchen never idles.
"""

from __future__ import annotations

from locust import between, task

from scenarios.base import TracedUser
from scenarios.orders import NEXT_STATUS, Ticket, TicketQueue, menu_ids, random_order

__all__ = ["TICKETS", "KitchenStaff"]

TICKETS = TicketQueue()


class KitchenStaff(TracedUser):
    weight = 1
    wait_time = between(0.5, 1.5)

    def on_start(self) -> None:
        self.dishes = menu_ids(self.call("GET", "/api/menu").body)

    @task
    def work(self) -> None:
        ticket = TICKETS.take() or self._walk_in()
        if ticket is None or ticket.status not in NEXT_STATUS:
            return
        status = NEXT_STATUS[ticket.status]
        reply = self.call(
            "PATCH", "/api/orders/{id}/status", id=ticket.order_id, json={"status": status}
        )
        if reply.ok:
            TICKETS.put(Ticket(ticket.order_id, status))

    def _walk_in(self) -> Ticket | None:
        order = self.call("POST", "/api/orders", json=random_order(self.rng, self.dishes))
        if not (order.ok and isinstance(order.body, dict)):
            return None
        return Ticket(order.body["id"], order.body.get("status", "accepted"))
