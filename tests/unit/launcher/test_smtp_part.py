"""The sink's SMTP receiver as a part of its own: its port, its program (with the receivers'
token file, as the sink's), its health check (a real SMTP NOOP against aiosmtpd requiring
AUTH: NOOP needs none)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller

from chaosgate.receivers.credential import Credential
from chaosgate.receivers.smtp import HttpRecorder, RecordingHandler, smtp_options
from refstack.launcher.builds import SYSTEM_BINARIES, BuildOutputs
from refstack.launcher.configs import write_configs
from refstack.launcher.health import PartRow, probe_parts
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import build_parts
from refstack.launcher.ports import DEFAULT_PORTS, PORT_OWNERS, find_taken_ports, resolve_ports

REPO = Path(__file__).resolve().parents[3]
RUNNING = {"statename": "RUNNING", "pid": os.getpid()}
CREDENTIAL = Credential(source="test", _token="smtp-part-token-0123456789")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def smtp_port() -> Iterator[int]:
    port = _free_port()
    ok = httpx.MockTransport(lambda request: httpx.Response(200))
    with httpx.Client(transport=ok) as http:
        handler = RecordingHandler(HttpRecorder(http, "http://sink.test", CREDENTIAL))
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, **smtp_options(CREDENTIAL)
        )
        controller.start()
        try:
            yield port
        finally:
            controller.stop()


def test_the_smtp_port_is_9025_owned_by_the_smtp_part() -> None:
    assert DEFAULT_PORTS["smtp"] == 9025
    assert PORT_OWNERS["smtp"] == "smtp"
    assert resolve_ports({"CHAOSGATE_PORT_SMTP": "19025"})["smtp"] == 19025
    assert resolve_ports({}, ["smtp=29025"])["smtp"] == 29025


def test_a_taken_smtp_port_names_its_part() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        (message,) = find_taken_ports({"smtp": port})
    assert f"port {port} (smtp, used by smtp) is already in use" in message
    assert "CHAOSGATE_PORT_SMTP" in message


def test_the_smtp_part_runs_the_sinks_smtp_receiver_after_the_sink(tmp_path: Path) -> None:
    layout = StackLayout.from_env(
        {
            "CHAOSGATE_HOME": str(REPO),
            "CHAOSGATE_STACK_DIR": str(tmp_path),
            "CHAOSGATE_CACHE": str(tmp_path),
        }
    )
    ports = resolve_ports({"CHAOSGATE_PORT_SMTP": "19025", "CHAOSGATE_PORT_SINK": "19095"})
    builds = BuildOutputs(
        jaeger_binary=tmp_path / "jaeger", store_dirs={"opensearch": tmp_path}, results=()
    )
    binaries = {name: tmp_path / name for name in SYSTEM_BINARIES}
    for k8s in (False, True):
        configs = write_configs(layout, ports)
        parts = build_parts(layout, ports, builds, binaries, configs, k8s=k8s)
        names = [part.name for part in parts]
        assert names.index("smtp") == names.index("sink") + 1
        smtp, sink = parts[names.index("smtp")], parts[names.index("sink")]
        token = str(tmp_path / "run" / "sink-token")
        assert configs.sink_token == tmp_path / "run" / "sink-token"
        assert smtp.program.command[1:] == [
            "-m", "chaosgate", "sink", "smtp", "--host", "127.0.0.1", "--port", "19025",
            "--sink-url", "http://127.0.0.1:19095", "--token-file", token,
        ]  # fmt: skip
        assert sink.program.command[-2:] == ["--token-file", token]
        # the token itself is on no command line and in no environment
        secret = configs.sink_token.read_text()
        for part in parts:
            assert secret not in " ".join(part.program.command), part.name
            assert secret not in " ".join(part.program.env.values()), part.name
        assert (smtp.url, smtp.health_url) == ("smtp://127.0.0.1:19025", "smtp://127.0.0.1:19025")


def test_the_smtp_health_check_is_a_noop(smtp_port: int) -> None:
    row = PartRow("smtp", f"smtp://127.0.0.1:{smtp_port}", f"smtp://127.0.0.1:{smtp_port}")
    with httpx.Client() as client:
        (status,) = probe_parts([row], {"smtp": RUNNING}, client)
    assert (status.healthy, status.state, status.detail) == (True, "up", "SMTP NOOP 250")


def test_no_smtp_server_is_unhealthy() -> None:
    url = f"smtp://127.0.0.1:{_free_port()}"
    with httpx.Client() as client:
        (status,) = probe_parts([PartRow("smtp", url, url)], {"smtp": RUNNING}, client)
    assert (status.healthy, status.state) == (False, "starting")
    assert status.detail.startswith("ConnectionRefusedError")
