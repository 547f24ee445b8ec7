"""A real Locust HttpUser against pytest-httpserver on 127.0.0.1: what reaches the ledger."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import gevent
import pytest
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner
from pytest_httpserver import HTTPServer
from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from chaosgate.request_ledger import LedgerTail, read_ledger
from scenarios.base import TracedUser
from scenarios.recorder import LedgerRecorder
from scenarios.tracing import TRACEPARENT, new_request_ids
from tests.support.servers import closed_port, closed_port_url, hanging_server_url
from tests.support.waiting import wait_until
from tests.unit.scenarios.support import fire, new_events


def _order(request: Request) -> Response:
    """Order 7 exists; any other id is a 404 naming it."""
    order_id = request.path.rsplit("/", 1)[-1]
    if order_id == "7":
        status, body = 200, {"id": 7, "status": "accepted"}
    else:
        status, body = 404, {"error": f"no order {order_id}"}
    return Response(json.dumps(body), status=status, content_type="application/json")


def _sent_headers(server: HTTPServer) -> list[Headers]:
    return [request.headers for request, _ in server.log]


class Probe(TracedUser):
    pass


@pytest.fixture
def server(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request(re.compile(r"/api/orders/[^/]+"), method="GET").respond_with_handler(
        _order
    )
    return httpserver


def started(tmp_path: Path, host: str, monkeypatch: pytest.MonkeyPatch) -> Environment:
    """A Locust environment with a local runner (its stats) and our recorder, test started."""
    monkeypatch.setattr(Probe, "host", host)  # what Locust's runner does with --host
    events = new_events()
    LedgerRecorder(tmp_path / "ledger").install(events)
    env = Environment(user_classes=[Probe], events=events, host=host)
    env.create_local_runner()
    fire(events.test_start, environment=env)
    return env


@pytest.fixture
def environment(
    tmp_path: Path, server: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Environment]:
    env = started(tmp_path, server.url_for("").rstrip("/"), monkeypatch)
    yield env
    assert isinstance(env.runner, LocalRunner)
    env.runner.quit()


def test_a_request_goes_to_the_ledger_with_its_route_template(
    server: HTTPServer, environment: Environment, tmp_path: Path
) -> None:
    user = Probe(environment)
    reply = user.call("GET", "/api/orders/{id}", id=7)
    fire(environment.events.test_stop, environment=environment)

    assert reply.ok and reply.body == {"id": 7, "status": "accepted"}
    [sent] = _sent_headers(server)
    [entry] = read_ledger(tmp_path / "ledger")
    match = TRACEPARENT.fullmatch(sent["traceparent"])
    assert match is not None
    assert entry.trace_id == match["trace_id"]
    assert entry.span_id == match["span_id"]
    assert entry.request_id == sent["X-Request-ID"]
    assert sent["baggage"] == "synthetic_request=true"
    assert (entry.scenario, entry.method, entry.route, entry.status) == (
        "Probe",
        "GET",
        "/api/orders/{id}",
        200,
    )
    assert entry.error == ""
    assert 0 < entry.latency_s < 5
    assert entry.started_at > 1.7e9
    stats = environment.stats.get("/api/orders/{id}", "GET")
    assert stats.num_requests == 1 and stats.num_failures == 0


def test_every_request_gets_fresh_ids_and_a_failure_is_recorded_with_its_status(
    server: HTTPServer, environment: Environment, tmp_path: Path
) -> None:
    user = Probe(environment)
    user.call("GET", "/api/orders/{id}", id=7)
    reply = user.call("GET", "/api/orders/{id}", id=9)
    fire(environment.events.test_stop, environment=environment)

    assert reply.status == 404 and reply.body is None
    entries = read_ledger(tmp_path / "ledger")
    assert [entry.status for entry in entries] == [200, 404]
    other = Probe(environment)  # each user is named by its class, worker and number
    assert {entry.user for entry in entries} == {user.user_key} != {other.user_key}
    assert user.user_key.startswith("Probe/0/") and user.user_key.split("/")[2].isdigit()
    assert len({entry.trace_id for entry in entries}) == 2
    assert len({entry.request_id for entry in entries}) == 2
    stats = environment.stats.get("/api/orders/{id}", "GET")
    assert stats.num_requests == 2 and stats.num_failures == 1
    [failure] = environment.stats.errors.values()
    assert str(failure.error) == "HTTP 404: no order N"  # id-free, so failures group by kind


def test_no_response_is_status_0_with_the_transport_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = started(tmp_path, closed_port_url(), monkeypatch)
    user = Probe(environment)
    reply = user.call("POST", "/api/iot/devices/{id}/heartbeat", id="oven-1", json={})
    fire(environment.events.test_stop, environment=environment)

    assert reply.status == 0
    [entry] = read_ledger(tmp_path / "ledger")
    assert (entry.route, entry.status) == ("/api/iot/devices/{id}/heartbeat", 0)
    assert "ConnectionError" in entry.error or "Connection" in entry.error
    assert environment.stats.get("/api/iot/devices/{id}/heartbeat", "POST").num_failures == 1


class Impatient(TracedUser):
    network_timeout = 0.3  # FastHttpUser's read timeout


def test_a_timeout_is_status_0_with_the_timeout_as_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with hanging_server_url() as url:
        monkeypatch.setattr(Impatient, "host", url)
        environment = started(tmp_path, url, monkeypatch)
        user = Impatient(environment)
        reply = user.call("GET", "/api/menu")
        fire(environment.events.test_stop, environment=environment)

    assert (reply.status, reply.ok, reply.body) == (0, False, None)
    [entry] = read_ledger(tmp_path / "ledger")
    assert (entry.route, entry.status) == ("/api/menu", 0)
    assert "timed out" in entry.error.lower() or "timeout" in entry.error.lower()
    assert 0.25 < entry.latency_s < 3
    assert environment.stats.get("/api/menu", "GET").num_failures == 1


def test_the_ledger_file_grows_while_the_load_runs(
    server: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = server.url_for("").rstrip("/")
    monkeypatch.setattr(Probe, "host", host)
    events = new_events()
    LedgerRecorder(tmp_path / "ledger", flush_every_s=0.05).install(events)
    env = Environment(user_classes=[Probe], events=events, host=host)
    fire(events.test_start, environment=env)
    Probe(env).call("GET", "/api/orders/{id}", id=7)
    tail = LedgerTail(tmp_path / "ledger")

    def flushed() -> list[object]:
        gevent.sleep(0.02)  # the recorder's flush greenlet runs while this one sleeps
        return list(tail.new_entries())

    assert len(wait_until(flushed, timeout_s=5, message="the entry in the file")) == 1
    fire(events.test_stop, environment=env)


def test_nothing_is_written_before_test_start_or_after_test_stop(
    server: HTTPServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Probe, "host", server.url_for("").rstrip("/"))
    events = new_events()
    recorder = LedgerRecorder(tmp_path / "ledger")
    recorder.install(events)
    env = Environment(user_classes=[Probe], events=events)
    user = Probe(env)
    user.call("GET", "/api/orders/{id}", id=7)
    assert recorder.writer is None
    fire(events.test_start, environment=env)
    user.call("GET", "/api/orders/{id}", id=7)
    fire(events.test_stop, environment=env)
    user.call("GET", "/api/orders/{id}", id=7)
    fire(events.quitting, environment=env)
    assert len(read_ledger(tmp_path / "ledger")) == 1


def test_a_master_process_writes_no_ledger(tmp_path: Path) -> None:
    events = new_events()
    recorder = LedgerRecorder(tmp_path / "ledger")
    recorder.install(events)
    env = Environment(events=events)
    port = closed_port()  # free for the master to bind
    master = env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=port)
    try:
        assert isinstance(master, MasterRunner)
        fire(events.test_start, environment=env)
    finally:
        master.quit()
    assert recorder.writer is None
    assert not (tmp_path / "ledger").exists()


def test_a_seeded_user_repeats_its_ids_and_choices_and_a_run_id_changes_only_the_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Probe, "host", "http://127.0.0.1:9")
    env = Environment(user_classes=[Probe], events=new_events())

    def first_user(seed: int | None, run_id: str) -> tuple[str, float]:
        monkeypatch.setattr(TracedUser, "seed", seed)
        monkeypatch.setattr(TracedUser, "run_id", run_id)
        monkeypatch.setattr(TracedUser, "_numbers", {})  # a fresh process: user number 0
        user = Probe(env)
        return new_request_ids(user.ids_rng).trace_id, user.rng.random()

    assert first_user(1, "") == first_user(1, "")
    assert first_user(1, "run-a") == first_user(1, "run-a")
    ids_a, choice_a = first_user(1, "run-a")
    ids_b, choice_b = first_user(1, "run-b")
    assert ids_a != ids_b and choice_a == choice_b
    assert first_user(2, "run-a")[1] != choice_a
    assert first_user(None, "")[0] != first_user(None, "")[0]
