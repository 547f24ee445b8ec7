"""flood_logs against the real services (their Flask apps, over httpx's WSGI transport) and a
log store faked at the transport: its ``_count`` counts the flood lines in the services' own
log files, minus any the test says were lost."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_log_flood import PartsCpu, flood_logs, split_rate
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import part_urls
from refstack.launcher.ports import resolve_ports
from refstack.launcher.record import StackRecord
from tests.unit.services.support import Services, ServiceUnderTest

PORTS = resolve_ports({"CHAOSGATE_PORT_OFFSET": "30000"})
URLS = part_urls(PORTS)
SERVICES = ("orders", "users", "iot")


class Platform:
    """The services' apps behind their stack URLs, and a store that finds their flood lines."""

    def __init__(self, built: dict[str, ServiceUnderTest]) -> None:
        self.built = built
        self.lost = 0  # flood lines the store never gets
        self.counts: list[dict[str, Any]] = []
        self._apps = {
            httpx.URL(URLS[name]).port: httpx.WSGITransport(app=service.app)
            for name, service in built.items()
        }

    def _count(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.counts.append(body)
        prefixes = [p["prefix"]["request_id"] for p in body["query"]["bool"]["should"]]
        found = sum(
            1
            for service in self.built.values()
            for line in service.log_lines()
            if any(line["request_id"].startswith(prefix) for prefix in prefixes)
        )
        return httpx.Response(200, json={"count": max(0, found - self.lost)})

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.port == PORTS["store"]:
            assert re.fullmatch(r"/restaurant-logs-\*/_count", request.url.path)
            return self._count(request)
        return self._apps[request.url.port].handle_request(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self.handler))


@pytest.fixture
def platform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(tmp_path / "state"))
    layout = StackLayout.from_env(os.environ)
    layout.run_dir.mkdir(parents=True)
    StackRecord(PORTS, os.getpid(), time.time(), []).save(layout.record_file)
    services = Services(tmp_path / "services")
    factories = {"orders": services.orders, "users": services.users, "iot": services.iot}
    yield Platform({name: factories[name](admin_faults=True) for name in SERVICES})
    services.close()


def test_the_rate_is_shared_out_over_the_services() -> None:
    assert split_rate(10_000, ["gateway", "orders", "users", "iot"]) == dict.fromkeys(
        ["gateway", "orders", "users", "iot"], 2500
    )
    assert split_rate(10, ["a", "b", "c"]) == {"a": 4, "b": 3, "c": 3}


def test_a_flood_is_written_counted_and_switched_off(platform: Platform) -> None:
    with platform.client() as client:
        result = flood_logs(
            3000,
            0.5,
            services=list(SERVICES),
            deadline_s=2.0,
            poll_s=0.25,
            client=client,
            cpu=PartsCpu({"services": os.getpid()}),  # they run in this process
        )
    assert result["rates"] == {"orders": 1000, "users": 1000, "iot": 1000}
    written = {name: len([line for line in s.log_lines() if "flood" in line["request_id"]])
               for name, s in platform.built.items()}  # fmt: skip
    assert sum(written.values()) == result["emitted"] > 0
    for name, state in result["floods"].items():
        assert state["lines_per_s"] == 0 and state["stopped_at"] is not None  # switched off
        assert state["emitted"] == written[name]
    assert result["stored_by_deadline"] == result["emitted"]
    assert result["all_stored_after_s"] is not None
    # the services (this process) were busy writing, and so was the machine
    cores = result["cpu_cores"]
    assert cores["services"] > 0 and 0 < cores["machine_busy"] <= 1
    assert 0.45 <= result["written_s"] <= 1.5
    assert [t for t, _ in result["series"]] == sorted(t for t, _ in result["series"])
    # one _count a poll, asking for exactly the three floods' ids
    ids = {state["flood_id"] for state in result["floods"].values()}
    asked = {p["prefix"]["request_id"] for p in platform.counts[0]["query"]["bool"]["should"]}
    assert asked == {f"flood-{flood_id}-" for flood_id in ids}


def test_lines_the_store_never_gets_are_waited_for_until_the_deadline(platform: Platform) -> None:
    platform.lost = 5
    began = time.monotonic()
    with platform.client() as client:
        result = flood_logs(360, 0.3, services=list(SERVICES), deadline_s=0.3, poll_s=0.1,
                            client=client, cpu=PartsCpu({}))  # fmt: skip
    assert result["stored_by_deadline"] == result["emitted"] - 5
    assert result["all_stored_after_s"] is None
    assert time.monotonic() - began >= 0.3 + 0.3


@pytest.mark.usefixtures("platform")
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"lines_per_s": 100, "duration_s": 0}, "duration_s must be above 0"),
        ({"lines_per_s": 100, "duration_s": 601}, "at most 600"),
        ({"lines_per_s": 2, "duration_s": 1}, "at least one line a service"),
        ({"lines_per_s": 100, "duration_s": 1, "services": ["kitchen"]}, "unknown service"),
    ],
)
def test_bad_arguments_are_refused_before_anything_floods(
    arguments: dict[str, Any], message: str
) -> None:
    with pytest.raises(ActivityFailed, match=message):
        flood_logs(**arguments)


def test_a_store_that_fails_stops_the_flood_and_says_so(platform: Platform) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        if request.url.port == PORTS["store"]:
            return httpx.Response(503, text="no shards")
        return platform.handler(request)

    with (
        httpx.Client(transport=httpx.MockTransport(broken)) as client,
        pytest.raises(ActivityFailed, match=r"_count failed .*503"),
    ):
        flood_logs(300, 1.0, services=list(SERVICES), poll_s=0.1, client=client, cpu=PartsCpu({}))
    for service in platform.built.values():  # the switches were turned off on the way out
        assert service.client().get("/admin/faults/log-flood").json["lines_per_s"] == 0  # type: ignore[index]
