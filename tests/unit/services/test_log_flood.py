"""The ``log_lines_per_s`` admin fault: a real flood through the service's own logger and file."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.waiting import wait_until
from tests.unit.services.support import Services

FLOOD = "/admin/faults/log-flood"
RATE = 2000


def _body(response: TestResponse) -> dict[str, Any]:
    body = response.json
    assert isinstance(body, dict), response.get_data(as_text=True)
    return body


def _flood(client: FlaskClient) -> dict[str, Any]:
    return _body(client.get(FLOOD))


def test_a_flood_writes_its_rate_in_the_services_format_and_says_how_many(
    services: Services,
) -> None:
    iot = services.iot(admin_faults=True)
    client = iot.client()
    assert _flood(client)["flood_id"] == ""
    assert client.put("/admin/faults", json={"log_lines_per_s": RATE}).status_code == 200
    running = wait_until(
        lambda: (stats := _flood(client))["emitted"] >= RATE // 2 and stats,
        timeout_s=10,
        message="half a second of flood lines",
    )
    assert running["lines_per_s"] == RATE and running["stopped_at"] is None
    cleared = client.delete("/admin/faults")
    assert _body(cleared)["log_lines_per_s"] == 0
    stats = _flood(client)
    assert stats["stopped_at"] is not None and stats["lines_per_s"] == 0
    elapsed = stats["stopped_at"] - stats["started_at"]
    # the rate holds: what was written is what was due (one tick's lines at most behind)
    assert RATE * elapsed - RATE * 0.2 <= stats["emitted"] <= RATE * elapsed + 1

    flood_id = stats["flood_id"]
    lines = [line for line in iot.log_lines() if line["request_id"].startswith("flood-")]
    assert len(lines) == stats["emitted"]  # every line said to be written is in the file
    assert [line["request_id"] for line in lines] == [
        f"flood-{flood_id}-{n}" for n in range(stats["emitted"])
    ]
    assert len({line["trace_id"] for line in lines}) == len(lines)
    for line in lines[:50]:
        assert re.fullmatch(r"[0-9a-f]{32}", line["trace_id"])
        assert re.fullmatch(r"[0-9a-f]{16}", line["span_id"])
        assert line["service"] == "iot" and line["level"] == "INFO"
        assert line["logger"] == "restaurant.iot" and "@timestamp" in line
    # after the flood the service's own lines carry their request's ids again
    answer = client.get("/api/iot/devices", headers={"X-Request-ID": "after-flood-1"})
    assert answer.status_code == 200
    assert iot.access_lines()[-1]["request_id"] == "after-flood-1"


def test_a_new_rate_starts_a_new_flood_and_zero_stops_it(services: Services) -> None:
    client = services.users(admin_faults=True).client()
    client.put("/admin/faults", json={"log_lines_per_s": 500})
    first = wait_until(lambda: _flood(client)["flood_id"], timeout_s=5, message="id")
    client.put("/admin/faults", json={"log_lines_per_s": 800})
    second = _flood(client)
    assert second["flood_id"] != first and second["lines_per_s"] == 800
    client.put("/admin/faults", json={"log_lines_per_s": 0})
    stopped = _flood(client)
    assert stopped["lines_per_s"] == 0 and stopped["stopped_at"] is not None
    assert _flood(client)["emitted"] == stopped["emitted"]  # nothing more is written


@pytest.mark.parametrize("rate", [-1, 50_001, 1.5, True, "fast"])
def test_a_bad_rate_is_a_400_and_starts_nothing(services: Services, rate: object) -> None:
    client = services.orders(admin_faults=True).client()
    answer = client.put("/admin/faults", json={"log_lines_per_s": rate})
    assert answer.status_code == 400
    assert "log_lines_per_s" in _body(answer)["error"]
    assert _flood(client)["flood_id"] == ""
