"""fill_disk / release_disk: argument checks, the record, and real loop-device filesystems.

The real tests mount two 32 MB ext4 filesystems under a temporary state dir (seconds, no stack
needed), check them with statvfs and with a real node-exporter (the stack's command line), and
release them; they are skipped where that is impossible (not root, no losetup / mkfs.ext4).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from chaoslib.exceptions import ActivityFailed
from prometheus_client.parser import text_string_to_metric_families

from chaosgate.chaos import local_actions
from chaosgate.chaos.local_disk import mounted, used_share
from refstack.launcher.layout import StackLayout
from tests.support.waiting import wait_until
from tests.unit.chaos.local_support import fake_stack
from tests.unit.services.gunicorn_support import free_port

NODE_EXPORTER = shutil.which("prometheus-node-exporter")
CAN_MOUNT = (
    os.geteuid() == 0
    and all(shutil.which(tool) for tool in ("losetup", "mkfs.ext4", "mount", "umount"))
    and Path("/dev/loop-control").exists()
)
needs_mount = pytest.mark.skipif(
    not CAN_MOUNT, reason="needs root, losetup, mkfs.ext4 and /dev/loop-control to mount"
)


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackLayout]:
    layout = fake_stack(tmp_path, monkeypatch)
    yield layout
    if CAN_MOUNT:
        local_actions.release_disk()  # whatever a failed test left


def _record(layout: StackLayout) -> list[dict[str, object]]:
    path = layout.run_dir / "chaos-disk.json"
    return json.loads(path.read_text()) if path.exists() else []


def _loops_of(image: str) -> str:
    return subprocess.run(
        ["losetup", "-j", image], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.usefixtures("layout")
@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"size_mb": 4}, "size_mb must be a whole number from 8 to 1024, got 4"),
        ({"size_mb": "32"}, "size_mb must be a whole number"),
        ({"fill_percent": 0}, "fill_percent must be a number from 1 to 99, got 0"),
        ({"fill_percent": 100}, "from 1 to 99, got 100"),
        ({"fill_percent": True}, "fill_percent must be a number"),
        ({"count": 0}, "count must be a whole number from 1 to 8, got 0"),
        ({"count": 9}, "from 1 to 8, got 9"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ActivityFailed, match=fragment):
        local_actions.fill_disk(**kwargs)  # type: ignore[arg-type]


@pytest.mark.usefixtures("layout")
def test_without_root_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(ActivityFailed, match="needs root; run the experiment as root"):
        local_actions.fill_disk()


def test_a_mount_point_node_exporter_hides_is_refused_before_anything_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = Path("/run/chaosgate-unit-test-never-made")
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(state))
    monkeypatch.setattr(os, "geteuid", lambda: 0)  # the root check comes first
    with pytest.raises(ActivityFailed, match=r"node-exporter leaves out .* CHAOSGATE_STACK_DIR"):
        local_actions.fill_disk()
    assert not state.exists()


def test_release_with_nothing_recorded_does_nothing(layout: StackLayout) -> None:
    assert local_actions.release_disk() == {"released": []}
    assert not (layout.run_dir / "chaos-disk.json").exists()


@needs_mount
@pytest.mark.tools
def test_release_tolerates_what_was_never_made(layout: StackLayout) -> None:
    image = layout.data_dir / "chaos" / "disk-fill-0.img"
    mountpoint = layout.run_dir / "chaos" / "disk-fill-0"
    entry = {"image": str(image), "mountpoint": str(mountpoint), "loop": None}
    (layout.run_dir / "chaos-disk.json").write_text(json.dumps([entry]))
    result = local_actions.release_disk()
    assert result == {
        "released": [{"mountpoint": str(mountpoint), "unmounted": False, "detached": []}]
    }
    assert _record(layout) == []


def _node_exporter_filesystems(port: int) -> dict[str, dict[str, float]]:
    """mountpoint -> {metric: value} for ext4 filesystems, from one real scrape."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("node_filesystem_") and sample.labels.get("fstype") == "ext4":
                found.setdefault(sample.labels["mountpoint"], {})[sample.name] = sample.value
    return found


@needs_mount
@pytest.mark.tools
def test_two_filesystems_filled_seen_by_node_exporter_and_released(layout: StackLayout) -> None:
    result = local_actions.fill_disk(size_mb=32, fill_percent=95, count=2)
    filled = result["filesystems"]
    assert [Path(fs["mountpoint"]).name for fs in filled] == ["disk-fill-0", "disk-fill-1"]
    record = _record(layout)
    assert [entry["loop"] for entry in record] == [fs["device"] for fs in filled]
    for fs in filled:
        assert mounted(fs["mountpoint"])
        assert Path(fs["mountpoint"]).is_relative_to(layout.run_dir / "chaos")
        assert Path(fs["image"]).is_relative_to(layout.data_dir / "chaos")
        assert used_share(fs["mountpoint"]) > 0.90  # what the rule needs
        assert 94 <= fs["used_percent"] <= 97
        assert str(fs["image"]) in _loops_of(str(fs["image"]))

    if NODE_EXPORTER is not None:  # the stack's own command line: default collectors
        port = free_port()
        exporter = subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            seen = wait_until(
                lambda: _node_exporter_filesystems(port),
                timeout_s=15,
                interval_s=0.1,
                ignoring=(httpx.TransportError,),
                message="node_exporter's filesystems",
            )
        finally:
            exporter.terminate()
            exporter.wait(timeout=10)
        for fs in filled:
            series = seen[fs["mountpoint"]]
            used = 1 - series["node_filesystem_avail_bytes"] / series["node_filesystem_size_bytes"]
            assert used > 0.90, (fs["mountpoint"], series)
            assert series["node_filesystem_readonly"] == 0

    with pytest.raises(ActivityFailed, match=r"already recorded .* release_disk first"):
        local_actions.fill_disk(size_mb=32, fill_percent=95)

    released = local_actions.release_disk()["released"]
    assert [entry["unmounted"] for entry in released] == [True, True]
    assert [entry["detached"] for entry in released] == [[fs["device"]] for fs in filled]
    for fs in filled:
        assert not mounted(fs["mountpoint"])
        assert not Path(fs["mountpoint"]).exists()
        assert not Path(fs["image"]).exists()
    assert _record(layout) == []
    assert not (layout.run_dir / "chaos").exists() and not (layout.data_dir / "chaos").exists()
    assert local_actions.release_disk() == {"released": []}  # idempotent


@needs_mount
@pytest.mark.tools
def test_release_finds_a_loop_device_the_record_missed(layout: StackLayout) -> None:
    # a crash between losetup and the record's update: the loop device is found by its image
    fs = local_actions.fill_disk(size_mb=16, fill_percent=50)["filesystems"][0]
    path = layout.run_dir / "chaos-disk.json"
    entries = json.loads(path.read_text())
    entries[0]["loop"] = None
    path.write_text(json.dumps(entries))
    [released] = local_actions.release_disk()["released"]
    assert released["unmounted"] is True
    assert released["detached"] == [fs["device"]]
    assert not Path(fs["image"]).exists()
