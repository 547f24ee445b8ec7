"""The shared servers pytest-httpserver cannot stand in for (tests/support/servers.py): each
does the one thing it is there for."""

from __future__ import annotations

import asyncio
import http.client
import socket

import pytest

from tests.support.servers import (
    KeepAliveServer,
    closed_port,
    full_backlog_listener,
    silent_listener,
    tcp_server,
)


def test_a_closed_port_refuses() -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port()), timeout=2).close()


def test_a_silent_listener_accepts_and_never_answers() -> None:
    with (
        silent_listener() as port,
        socket.create_connection(("127.0.0.1", port), timeout=2) as client,
    ):
        client.settimeout(0.2)
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(TimeoutError):
            client.recv(1)


def test_connect_hangs_on_a_full_backlog() -> None:
    with full_backlog_listener() as address, pytest.raises(TimeoutError):
        socket.create_connection(address, timeout=0.3).close()


def test_the_keep_alive_server_answers_twice_on_one_connection() -> None:
    server = KeepAliveServer("127.0.0.1", b"pod-a")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3)
    try:
        connection.request("GET", "/")
        first = connection.getresponse()
        assert (first.read(), first.getheader("Connection")) == (b"pod-a", None)
        opened = connection.sock
        connection.request("GET", "/other")
        assert connection.getresponse().read() == b"pod-a"
        assert connection.sock is opened  # the same connection, not a reconnect
    finally:
        connection.close()
        server.close()


def test_the_tcp_server_runs_the_test_s_handler() -> None:
    async def shout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.read(100)).upper())
        await writer.drain()
        writer.close()

    async def scenario() -> bytes:
        server, (host, port) = await tcp_server(shout)
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"ping")
        answer = await reader.read(100)
        writer.close()
        server.close()
        return answer

    assert asyncio.run(scenario()) == b"PING"
