"""The connection faults under a real gunicorn (the server the stack runs), on 127.0.0.1.

Each test starts the services it needs the way the stack does (tests/unit/services/
gunicorn_support.py) and stops them by PID. What the in-process tests cannot show is checked
here: a dropped connection is a transport error for a real HTTP client, the gateway counts it
as an upstream ``reset``, and gunicorn's worker survives it quietly; held connections starve
real requests.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.waiting import wait_until
from tests.unit.services.gunicorn_support import Start

pytestmark = pytest.mark.processes  # real programs for seconds each

USER = {"name": "Ada", "email": "ada@example.com"}


def test_dropped_connections_fail_in_transport_and_the_worker_survives(start: Start) -> None:
    users = start("users")
    gateway = start("gateway", USERS_URL=users.url)
    workers = users.worker_pids()
    assert len(workers) == 1
    faults = {"drop_connection_ratio": 1.0, "route_prefix": "/api/users", "methods": ["POST"]}
    assert httpx.put(f"{users.url}/admin/faults", json=faults).status_code == 200

    with pytest.raises(httpx.TransportError):  # the client itself: no answer, a closed socket
        httpx.post(f"{users.url}/api/users", json=USER, timeout=5)
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        for _ in range(5):
            answer = client.post("/api/users", json=USER)
            assert answer.status_code == 502
            assert answer.json() == {"error": "upstream 'users' dropped the connection"}
        assert client.get("/api/users/1").status_code == 404  # a GET still reaches the handler

    assert gateway.metric("gateway_upstream_errors_total", upstream="users", kind="reset") == 5.0
    assert gateway.metric("gateway_upstream_errors_total", upstream="users", kind="connect") == 0
    assert users.metric("http_requests_total", route="/api/users") is None  # never answered
    assert users.worker_pids() == workers  # the same worker served on
    quiet = users.stderr.read_text()
    assert "Traceback" not in quiet and "[ERROR]" not in quiet, quiet

    # half of them: the others are answered, on connections the gateway keeps alive
    httpx.put(f"{users.url}/admin/faults", json={"drop_connection_ratio": 0.5})
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        codes = [
            client.post(
                "/api/users", json={"name": "Bo", "email": f"bo{i}@example.com"}
            ).status_code
            for i in range(40)
        ]
    assert set(codes) == {201, 502}
    assert 8 <= codes.count(502) <= 32  # Binomial(40, 0.5): outside this 1 run in ~40,000
    resets = gateway.metric("gateway_upstream_errors_total", upstream="users", kind="reset")
    assert resets == 5 + codes.count(502)
    assert users.worker_pids() == workers

    assert httpx.delete(f"{users.url}/admin/faults").status_code == 200
    assert httpx.post(f"{gateway.url}/api/users", json=USER, timeout=10).status_code == 201


def test_held_connections_starve_real_requests(start: Start) -> None:
    users = start("users", DB_POOL_SIZE="5", DB_POOL_TIMEOUT_S="0.5")
    assert httpx.put(f"{users.url}/admin/faults", json={"db_hold_connections": 5}).is_success
    wait_until(
        lambda: users.metric("db_pool_in_use") == 5.0,
        timeout_s=10,
        interval_s=0.1,
        message=lambda: f"5 connections in use; {users.metric('db_pool_in_use')} are",
    )
    assert users.metric("db_pool_size") == 5.0
    starved = httpx.post(f"{users.url}/api/users", json=USER, timeout=10)
    assert starved.status_code == 503
    assert "pool exhausted" in starved.json()["error"]

    assert httpx.delete(f"{users.url}/admin/faults").is_success
    wait_until(
        lambda: users.metric("db_pool_in_use") == 0.0,
        timeout_s=10,
        interval_s=0.1,
        message=lambda: f"0 connections in use; {users.metric('db_pool_in_use')} are",
    )
    assert httpx.post(f"{users.url}/api/users", json=USER, timeout=10).status_code == 201
