"""silence_devices / decommission_devices: ids recorded before the heartbeats, the rollback
deletes exactly those (HTTP faked at the transport)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos import local_actions
from refstack.launcher.layout import StackLayout
from tests.unit.chaos.local_support import PORTS, fake_stack
from tests.unit.services.gunicorn_support import Start, start

__all__ = ["start"]  # the fixture, used by name below

GATEWAY = f"http://127.0.0.1:{PORTS['gateway']}"
IOT = f"http://127.0.0.1:{PORTS['iot']}"


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackLayout:
    return fake_stack(tmp_path, monkeypatch)


def _record(layout: StackLayout) -> list[dict[str, object]]:
    path = layout.run_dir / "chaos-devices.json"
    return json.loads(path.read_text()) if path.exists() else []


def test_silence_records_the_ids_then_sends_one_heartbeat_each(layout: StackLayout) -> None:
    seen: list[tuple[str, str, list[dict[str, object]]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        # what was recorded when this heartbeat left: the record comes first
        seen.append((request.method, str(request.url), _record(layout)))
        return httpx.Response(200, json={"online": True})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = local_actions.silence_devices("silent", count=2, client=client)
    assert result["devices"] == ["silent-1", "silent-2"]
    assert [(method, url) for method, url, _ in seen] == [
        ("POST", f"{GATEWAY}/api/iot/devices/silent-1/heartbeat"),
        ("POST", f"{GATEWAY}/api/iot/devices/silent-2/heartbeat"),
    ]
    first_record = seen[0][2]
    assert [entry["ids"] for entry in first_record] == [["silent-1", "silent-2"]]


def test_silencing_the_same_ids_twice_is_refused(layout: StackLayout) -> None:
    ok = httpx.MockTransport(lambda _request: httpx.Response(200, json={}))
    with httpx.Client(transport=ok) as client:
        local_actions.silence_devices("silent", count=1, client=client)
        with pytest.raises(ActivityFailed, match=r"silent-1 are already recorded.*decommission"):
            local_actions.silence_devices("silent", count=3, client=client)
    assert len(_record(layout)) == 1


def test_decommission_deletes_the_recorded_ids_and_tolerates_gone_ones(
    layout: StackLayout,
) -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(200))) as client:
        local_actions.silence_devices("silent", count=3, client=client)
        local_actions.silence_devices("other", count=1, client=client)
    deleted: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        deleted.append(f"{request.method} {request.url}")
        if request.url.path.endswith("silent-2"):
            return httpx.Response(404, json={"error": "no device 'silent-2'"})
        return httpx.Response(200, json={"decommissioned": True})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = local_actions.decommission_devices("silent", client=client)
        assert result == {
            "prefix": "silent",
            "decommissioned": ["silent-1", "silent-3"],
            "already_gone": ["silent-2"],
        }
        assert deleted == [f"DELETE {IOT}/api/iot/devices/silent-{n}" for n in (1, 2, 3)]
        assert [entry["prefix"] for entry in _record(layout)] == ["other"]
        # played again (or never injected): nothing recorded, nothing sent
        again = local_actions.decommission_devices("silent", client=client)
        assert again == {"prefix": "silent", "decommissioned": [], "already_gone": []}
    assert len(deleted) == 3


def test_decommission_keeps_the_record_when_the_iot_service_is_down(
    layout: StackLayout,
) -> None:
    with httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(200))) as client:
        local_actions.silence_devices("silent", count=1, client=client)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        httpx.Client(transport=httpx.MockTransport(refuse)) as client,
        pytest.raises(ActivityFailed, match=r"record .* is kept: play this rollback again"),
    ):
        local_actions.decommission_devices("silent", client=client)
    assert [entry["ids"] for entry in _record(layout)] == [["silent-1"]]


@pytest.mark.usefixtures("layout")
def test_a_refused_heartbeat_fails_the_action() -> None:
    answer = httpx.MockTransport(lambda _r: httpx.Response(500, json={"error": "injected fault"}))
    with (
        httpx.Client(transport=answer) as client,
        pytest.raises(ActivityFailed, match=r"heartbeat answered HTTP 500: .*injected fault"),
    ):
        local_actions.silence_devices("silent", count=1, client=client)


@pytest.mark.usefixtures("layout")
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"prefix": "no spaces"}, "prefix 'no spaces' must be 1-58 letters"),
        ({"prefix": "x" * 59}, "must be 1-58 letters"),
        ({"prefix": "ok", "count": 0}, "count must be a whole number from 1 to 100, got 0"),
        ({"prefix": "ok", "count": 2.5}, "count must be a whole number"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ActivityFailed, match=fragment):
        local_actions.silence_devices(**kwargs)  # type: ignore[arg-type]


@pytest.mark.processes
def test_silenced_devices_really_go_offline_and_the_rollback_removes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, start: Start
) -> None:
    # the real IoT service and gateway under gunicorn, as the stack runs them
    iot = start("iot", IOT_OFFLINE_AFTER_S="1")
    gateway = start("gateway", IOT_URL=iot.url)
    fake_stack(
        tmp_path, monkeypatch, gateway=int(gateway.url.rsplit(":", 1)[1]),
        iot=int(iot.url.rsplit(":", 1)[1]),
    )  # fmt: skip
    local_actions.silence_devices("chaosgate-silent", count=2)
    listed = httpx.get(f"{iot.url}/api/iot/devices").json()
    assert [(d["id"], d["online"]) for d in listed["devices"]] == [
        ("chaosgate-silent-1", True),
        ("chaosgate-silent-2", True),
    ]
    time.sleep(1.2)  # IOT_OFFLINE_AFTER_S with no heartbeat: offline, with no traffic at all
    assert iot.metric("iot_devices_offline") == 2.0
    assert iot.metric("iot_devices_online") == 0.0

    result = local_actions.decommission_devices("chaosgate-silent")
    assert result["decommissioned"] == ["chaosgate-silent-1", "chaosgate-silent-2"]
    assert httpx.get(f"{iot.url}/api/iot/devices").json()["devices"] == []
    assert iot.metric("iot_devices_offline") == 0.0
