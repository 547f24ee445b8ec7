"""The node's description: capacity from this machine, status and its transition times."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from refstack.node.node import machine_capacity, node_info, node_labels, node_status
from refstack.node_config import NodeConfig

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
MEMINFO = "MemTotal:       24568000 kB\nMemFree:        1000 kB\n"


def _config(tmp_path: Path) -> NodeConfig:
    return NodeConfig(
        kubeconfig=tmp_path / "kc",
        state_dir=tmp_path / "state",
        container_log_dir=tmp_path / "logs",
        node_ip="127.0.0.1",
    )


def test_capacity_comes_from_this_machine(tmp_path: Path) -> None:
    capacity = machine_capacity(tmp_path / "state", meminfo=MEMINFO)
    fs = os.statvfs(tmp_path / "state")
    assert capacity == {
        "cpu": str(os.cpu_count()),
        "memory": "24568000Ki",
        "ephemeral-storage": str(fs.f_blocks * fs.f_frsize),
        "pods": "110",
    }


def test_capacity_reads_proc_meminfo_by_default(tmp_path: Path) -> None:
    memory = machine_capacity(tmp_path)["memory"]
    assert memory.endswith("Ki") and int(memory[:-2]) > 0


def test_labels_and_info(tmp_path: Path) -> None:
    labels = node_labels(_config(tmp_path))
    assert labels["kubernetes.io/hostname"] == "chaosgate-local"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["kubernetes.io/arch"] in ("amd64", "arm64")
    info = node_info("v1.37.2")
    assert info["kubeletVersion"] == "v1.37.2"
    assert info["containerRuntimeVersion"].startswith("chaosgate-process://")
    assert info["operatingSystem"] == "linux"
    assert all(isinstance(v, str) for v in info.values())


def test_status_is_ready_without_pressure(tmp_path: Path) -> None:
    config = _config(tmp_path)
    status = node_status(config, capacity={"cpu": "2"}, info={"kubeletVersion": "v1"}, now=T0)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["reason"] == "KubeletReady"
    assert {conditions[k]["status"] for k in ("MemoryPressure", "DiskPressure", "PIDPressure")} == {
        "False"
    }
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "127.0.0.1"},
        {"type": "Hostname", "address": "chaosgate-local"},
    ]
    assert status["allocatable"] == status["capacity"] == {"cpu": "2"}


def test_heartbeats_move_while_transition_times_stay(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = node_status(config, capacity={}, info={}, now=T0)
    later = node_status(
        config, capacity={}, info={}, now=T0 + timedelta(seconds=10), previous=first["conditions"]
    )
    ready = {c["type"]: c for c in later["conditions"]}["Ready"]
    assert ready["lastHeartbeatTime"] == "2025-03-01T12:00:10Z"
    assert ready["lastTransitionTime"] == "2025-03-01T12:00:00Z"
    unknown = [{"type": "Ready", "status": "Unknown", "lastTransitionTime": "2020-01-01T00:00:00Z"}]
    back = node_status(config, capacity={}, info={}, now=T0, previous=unknown)
    assert {c["type"]: c for c in back["conditions"]}["Ready"]["lastTransitionTime"] == (
        "2025-03-01T12:00:00Z"
    )
