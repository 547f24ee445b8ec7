"""stress_memory: how much it takes, its checks, and a small real run stopped by PID."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos import local_actions
from chaosgate.chaos.local_stress import memory_to_fill_kb
from refstack.launcher.layout import StackLayout
from tests.support.waiting import wait_until
from tests.unit.chaos.local_support import fake_stack

MEMINFO = """MemTotal:       24000000 kB
MemFree:         1000000 kB
MemAvailable:   20000000 kB
Buffers:          100000 kB
"""


def test_it_takes_the_available_memory_but_a_share_of_the_total() -> None:
    assert memory_to_fill_kb(MEMINFO, 5) == 20_000_000 - 1_200_000
    assert memory_to_fill_kb(MEMINFO, 90) == 0  # 21.6 GB to keep, only 20 GB available
    with pytest.raises(ActivityFailed, match="no MemTotal or MemAvailable"):
        memory_to_fill_kb("MemTotal: 1 kB\n", 5)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"duration_s": 0}, "duration_s 0 is out of range"),
        ({"duration_s": 5, "keep_free_percent": 0}, "keep_free_percent must be a number from 1"),
        ({"duration_s": 5, "keep_free_percent": 96}, "from 1 to 95, got 96"),
        ({"duration_s": 5, "keep_free_percent": "5"}, "keep_free_percent must be a number"),
        ({"duration_s": 5, "nice": 20}, "nice must be a whole number 0-19"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(ActivityFailed, match=fragment):
        local_actions.stress_memory(**kwargs)  # type: ignore[arg-type]


@pytest.fixture
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackLayout]:
    layout = fake_stack(tmp_path, monkeypatch)
    yield layout
    local_actions.stop_stress()


def _meminfo_kb() -> tuple[int, int]:
    values = {
        line.split(":")[0]: int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
    }
    return values["MemTotal"], values["MemAvailable"]


@pytest.mark.tools
def test_a_small_real_fill_is_held_niced_and_stopped_by_pid(layout: StackLayout) -> None:
    total, available = _meminfo_kb()
    target_kb = 512 * 1024  # keep all but about 512 MB free: harmless on a shared machine
    keep = (available - target_kb) / total * 100
    if not 1 <= keep <= 95:
        pytest.skip(f"this machine's memory ({total} kB, {available} available) does not allow it")
    started = local_actions.stress_memory(duration_s=20, keep_free_percent=keep)
    pid = started["pid"]
    command = started["command"]
    assert command[command.index("--vm") + 1] == "2"  # two workers share --vm-bytes
    assert "--vm-keep" in command and "--oomable" in command and "20s" in command
    assert 64 * 1024 * 1024 <= started["fill_bytes"] <= 1024 * 1024 * 1024
    record = json.loads((layout.run_dir / "chaos-stress.json").read_text())
    assert [entry["pid"] for entry in record] == [pid]

    group = psutil.Process(pid)

    def rss() -> int:
        members = [group, *group.children(recursive=True)]
        return sum(member.memory_info().rss for member in members if member.is_running())

    wait_until(  # the memory is really taken, by both workers
        lambda: rss() >= started["fill_bytes"] * 0.8,
        timeout_s=15,
        interval_s=0.2,
        ignoring=(psutil.NoSuchProcess,),  # a worker that exits between the two reads
        message=lambda: f"80 % of {started['fill_bytes']} bytes resident; {rss()} are",
    )
    assert group.nice() == 19

    assert local_actions.stop_stress() == {"stopped": [pid], "already_ended": []}
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
