from __future__ import annotations

import socket

import pytest

from refstack.launcher.ports import DEFAULT_PORTS, PortError, find_taken_ports, resolve_ports


def test_defaults_match_the_documented_table() -> None:
    ports = resolve_ports({})
    assert ports["gateway"] == 8080
    assert (ports["orders"], ports["users"], ports["iot"]) == (8081, 8082, 8083)
    assert (ports["jaeger_query"], ports["otlp_grpc"], ports["otlp_http"]) == (16686, 4317, 4318)
    assert ports["store"] == 9200
    assert (ports["prometheus"], ports["alertmanager"], ports["sink"]) == (9090, 9093, 9095)
    assert ports["node_exporter"] == 9100


def test_env_then_command_line_override() -> None:
    env = {"CHAOSGATE_PORT_GATEWAY": "18080", "CHAOSGATE_PORT_SINK": "19095", "OTHER": "x"}
    ports = resolve_ports(env, ["sink=29095"])
    assert ports["gateway"] == 18080
    assert ports["sink"] == 29095
    assert ports["prometheus"] == DEFAULT_PORTS["prometheus"]


@pytest.mark.parametrize(
    ("env", "overrides", "fragment"),
    [
        ({"CHAOSGATE_PORT_GATEWAI": "1"}, [], "unknown port 'gatewai'"),
        ({"CHAOSGATE_PORT_GATEWAY": "http"}, [], "'http' is not a port number"),
        ({"CHAOSGATE_PORT_GATEWAY": "70000"}, [], "'70000' is out of range"),
        ({}, ["gateway"], "expected NAME=PORT"),
        ({}, ["nope=1"], "expected NAME=PORT"),
        ({}, ["sink=9090"], "'prometheus' and 'sink' are both set to 9090"),
    ],
)
def test_bad_overrides_name_the_source(
    env: dict[str, str], overrides: list[str], fragment: str
) -> None:
    with pytest.raises(PortError) as info:
        resolve_ports(env, overrides)
    assert fragment in str(info.value)


def test_a_taken_port_is_named_with_its_part() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        messages = find_taken_ports({"store": port})
    assert len(messages) == 1
    assert f"port {port} (store, used by the log and span store" in messages[0]
    assert "CHAOSGATE_PORT_STORE" in messages[0]


@pytest.mark.parametrize(
    ("env", "overrides"),
    [({"CHAOSGATE_PORT_OPENSEARCH": "19200"}, []), ({}, ["opensearch=19200"])],
)
def test_the_store_port_s_old_name_is_refused_with_its_new_one(
    env: dict[str, str], overrides: list[str]
) -> None:
    with pytest.raises(PortError, match="port 'opensearch' is now called 'store'"):
        resolve_ports(env, overrides)


def test_a_free_port_is_not_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert find_taken_ports({"sink": port}) == []


def test_an_offset_moves_every_port_and_names_still_win() -> None:
    ports = resolve_ports({"CHAOSGATE_PORT_OFFSET": "10000", "CHAOSGATE_PORT_SINK": "29999"})
    assert ports["gateway"] == 18080
    assert ports["store"] == 19200
    assert ports["sink"] == 29999


def test_an_offset_out_of_range_is_an_error() -> None:
    with pytest.raises(PortError, match="moves port"):
        resolve_ports({"CHAOSGATE_PORT_OFFSET": "60000"})
