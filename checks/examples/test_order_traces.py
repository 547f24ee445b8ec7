"""An order's trace must reach the orders service and its database (a span a team cares about)."""

from assertions.backends.jaeger import TraceSummary
from chaosgate.checks_plugin import poll_until
from chaosgate.finished_run import FinishedRun
from chaosgate.run.backends import RunBackends

SAMPLE = 50


def test_placed_orders_have_an_orders_span_and_a_database_span(
    chaosgate_run: FinishedRun, chaosgate_backends: RunBackends
) -> None:
    placed = [
        entry
        for entry in chaosgate_run.ledger(route="/api/orders", in_faults=False)
        if entry.method == "POST" and 200 <= entry.status < 300
    ][:SAMPLE]
    assert placed, "the run placed no order outside its faults: nothing to check"
    ids = [entry.trace_id for entry in placed]

    def all_found() -> dict[str, TraceSummary] | None:
        found = chaosgate_backends.jaeger.find_traces(ids)
        return found if len(found) == len(ids) else None

    traces = poll_until(all_found, timeout_s=30, what=f"the {len(ids)} order traces in Jaeger")
    without_orders = [t for t, s in traces.items() if "orders" not in s.services]
    without_db = [t for t, s in traces.items() if not s.has_db_span]
    assert not without_orders, f"{len(without_orders)} order traces never reached orders"
    assert not without_db, f"{len(without_db)} order traces have no database span"
