"""The local stack keeps the promises chaosgate verifies: traces, logs and alerts, for real."""

from __future__ import annotations

import os
import secrets
import signal
import time

import httpx
import pytest

from refstack.launcher.supervisor import SupervisorClient
from tests.integration.conftest import LocalStack
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

DEADLINE_S = 30.0


def _order_with_known_ids(stack: LocalStack, http: httpx.Client) -> tuple[str, str]:
    trace_id = secrets.token_hex(16)
    request_id = f"it-{secrets.token_hex(8)}"
    headers = {
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
        "X-Request-ID": request_id,
    }
    menu = http.get(f"{stack.urls['gateway']}/api/menu").json()
    dishes = menu["items"] if isinstance(menu, dict) else menu
    body = {"table": 4, "items": [{"menu_id": dishes[0]["id"], "quantity": 2}]}
    response = http.post(f"{stack.urls['gateway']}/api/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers.get("X-Request-ID") == request_id
    return trace_id, request_id


def test_a_request_leaves_a_trace_with_gateway_service_and_database_spans(
    local_stack: LocalStack, http: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id, _ = _order_with_known_ids(local_stack, http)
    sent = time.monotonic()

    def complete_trace() -> dict[str, object] | None:
        response = http.get(f"{local_stack.urls['jaeger']}/api/traces/{trace_id}")
        if response.status_code != 200:
            return None
        data = response.json()["data"]
        if not data:
            return None
        trace = data[0]
        services = {p["serviceName"] for p in trace["processes"].values()}
        db_spans = [
            s for s in trace["spans"]
            if any(t["key"] == "db.system" or t["key"] == "db.system.name" for t in s["tags"])
        ]  # fmt: skip
        if {"gateway", "orders"} <= services and db_spans:
            return {"trace": trace, "services": services, "db_spans": db_spans}
        return None

    found = wait_until(
        complete_trace,
        timeout_s=DEADLINE_S,
        message=f"trace {trace_id} with gateway, orders and db spans in Jaeger",
    )
    lag = time.monotonic() - sent
    trace = found["trace"]
    assert isinstance(trace, dict)
    spans = trace["spans"]
    by_id = {s["spanID"]: s for s in spans}
    processes = trace["processes"]
    # the database span hangs under an orders span, which hangs under a gateway span
    db_span = found["db_spans"][0]  # type: ignore[index]
    parent = by_id[db_span["references"][0]["spanID"]]
    assert processes[parent["processID"]]["serviceName"] == "orders"
    chain = parent
    while chain["references"] and chain["references"][0]["spanID"] in by_id:
        chain = by_id[chain["references"][0]["spanID"]]
        if processes[chain["processID"]]["serviceName"] == "gateway":
            break
    assert processes[chain["processID"]]["serviceName"] == "gateway"
    with capsys.disabled():
        print(f"\n[figure] trace {trace_id} complete in Jaeger {lag:.2f} s after the request")


def test_a_requests_log_lines_reach_opensearch_with_its_trace_id(
    local_stack: LocalStack, http: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_id, request_id = _order_with_known_ids(local_stack, http)
    sent = time.monotonic()
    url = f"{local_stack.urls['store']}/restaurant-logs-*/_search"
    query = {"size": 50, "query": {"terms": {"trace_id": [trace_id]}}}

    def log_lines() -> list[dict[str, object]] | None:
        response = http.post(url, json=query)
        if response.status_code != 200:
            return None
        hits = [hit["_source"] for hit in response.json()["hits"]["hits"]]
        services = {hit.get("service") for hit in hits}
        return hits if {"gateway", "orders"} <= services else None

    hits = wait_until(
        log_lines,
        timeout_s=DEADLINE_S,
        message=f"log lines of trace {trace_id} from gateway and orders in OpenSearch",
    )
    lag = time.monotonic() - sent
    assert all(hit["trace_id"] == trace_id for hit in hits)
    assert {hit["request_id"] for hit in hits} == {request_id}
    assert all("@timestamp" in hit and "span_id" in hit for hit in hits)
    with capsys.disabled():
        print(
            f"\n[figure] {len(hits)} log lines of trace {trace_id} in OpenSearch after {lag:.2f} s"
        )


def _active_alerts(stack: LocalStack, http: httpx.Client, name: str) -> list[dict[str, object]]:
    response = http.get(
        f"{stack.urls['alertmanager']}/api/v2/alerts",
        params={"active": "true", "filter": f'alertname="{name}"'},
    )
    response.raise_for_status()
    alerts: list[dict[str, object]] = response.json()
    return alerts


def _notifications(
    stack: LocalStack, http: httpx.Client, name: str, status: str
) -> list[dict[str, object]]:
    response = http.get(
        f"{stack.urls['sink']}/notifications", params={"alertname": name, "status": status}
    )
    response.raise_for_status()
    items: list[dict[str, object]] = response.json()["notifications"]
    return items


def test_killing_the_users_service_fires_its_down_alert_within_30s_and_it_resolves(
    local_stack: LocalStack, http: httpx.Client, capsys: pytest.CaptureFixture[str]
) -> None:
    name = "UsersServiceDown"
    users_health = f"{local_stack.urls['users']}/healthz"
    assert http.get(users_health).status_code == 200
    assert _active_alerts(local_stack, http, name) == [], "alert active before the fault"
    already_notified = len(_notifications(local_stack, http, name, "firing"))
    already_resolved = len(_notifications(local_stack, http, name, "resolved"))

    supervisor = SupervisorClient(local_stack.layout.supervisor_socket)
    pid = int(supervisor.process("users")["pid"])
    killed_at = time.time()
    os.killpg(pid, signal.SIGKILL)  # the whole process group, like a container's processes

    alert = wait_until(
        lambda: _active_alerts(local_stack, http, name),
        timeout_s=DEADLINE_S,
        message=f"{name} active in Alertmanager",
    )
    seen_at = time.time()
    assert alert[0]["labels"]["service"] == "users"  # type: ignore[index]

    notes = wait_until(
        lambda: _notifications(local_stack, http, name, "firing")[already_notified:],
        timeout_s=max(0.0, killed_at + DEADLINE_S - time.time()),
        message=f"a firing {name} notification at the sink, {DEADLINE_S} s after the kill",
    )
    notified_at = float(notes[0]["received_at_unix"])  # type: ignore[arg-type]
    with capsys.disabled():
        print(
            f"\n[figure] {name}: active in Alertmanager {seen_at - killed_at:.1f} s, "
            f"notification at the sink {notified_at - killed_at:.1f} s after the kill"
        )
    assert seen_at - killed_at <= DEADLINE_S
    assert notified_at - killed_at <= DEADLINE_S

    # supervisord brings users back (after the stack's restart delay) and the alert resolves
    wait_until(
        lambda: _healthy(http, users_health),
        timeout_s=60.0,
        interval_s=0.5,
        message="supervisord bringing the users service back",
    )
    assert int(supervisor.process("users")["pid"]) != pid
    resolved = wait_until(
        lambda: _notifications(local_stack, http, name, "resolved")[already_resolved:],
        timeout_s=60.0,
        message=f"{name} resolved after the service came back",
    )
    assert _active_alerts(local_stack, http, name) == []
    with capsys.disabled():
        resolved_at = float(resolved[-1]["received_at_unix"])  # type: ignore[arg-type]
        print(
            f"[figure] {name}: resolved notification {resolved_at - killed_at:.1f} s after the kill"
        )


def _healthy(http: httpx.Client, url: str) -> bool:
    try:
        return http.get(url).status_code == 200
    except httpx.HTTPError:
        return False
