"""The data path over real loopback sockets: forwarding, half-close, resets, flow control."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
from collections.abc import Awaitable, Callable

import pytest

from refstack.proxy.endpoints import Endpoint
from refstack.proxy.forward import Connection, RoundRobin, start_forwarder
from tests.support.servers import closed_port, full_backlog_listener, tcp_server
from tests.support.waiting import wait_until_async


def run(coroutine: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coroutine, 20))


async def proxy(
    pick: Callable[[], Endpoint | None], connect_timeout_s: float = 2.0
) -> tuple[asyncio.Server, Endpoint]:
    server = await start_forwarder("127.0.0.1", 0, pick, connect_timeout_s=connect_timeout_s)
    return server, server.sockets[0].getsockname()[:2]


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()


async def expect_reset(address: Endpoint) -> float:
    """Connect, read, and return how long it took for the connection to be reset."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(*address)
    with pytest.raises(ConnectionResetError):
        await reader.read(1)  # a plain close would read b"" here
    writer.close()
    return time.monotonic() - started


def test_round_robin_takes_turns_and_follows_replacements() -> None:
    balancer = RoundRobin([("127.1.0.2", 80), ("127.1.0.3", 80)])
    assert [balancer.pick() for _ in range(3)] == [
        ("127.1.0.2", 80),
        ("127.1.0.3", 80),
        ("127.1.0.2", 80),
    ]
    balancer.replace([("127.1.0.4", 80)])
    assert balancer.pick() == ("127.1.0.4", 80)
    balancer.replace([])
    assert balancer.pick() is None
    assert RoundRobin().pick() is None


def test_bytes_go_both_ways_unchanged_through_flow_control() -> None:
    payload = os.urandom(8 * 1024 * 1024)

    async def scenario() -> None:
        up, target = await tcp_server(echo)
        server, address = await proxy(lambda: target)
        reader, writer = await asyncio.open_connection(*address)

        async def send() -> None:
            writer.write(payload)
            await writer.drain()
            writer.write_eof()

        sender = asyncio.create_task(send())
        await asyncio.sleep(0.2)  # let buffers fill up on every hop before reading
        received = await reader.read(-1)
        await sender
        assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
        writer.close()
        server.close()
        up.close()

    run(scenario())


def test_half_close_reaches_the_pod_and_its_answer_comes_back() -> None:
    async def answer_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.read(-1)  # until the client's EOF
        writer.write(b"got " + request)
        await writer.drain()
        writer.close()

    async def scenario() -> None:
        up, target = await tcp_server(answer_after_eof)
        server, address = await proxy(lambda: target)
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"hello")
        writer.write_eof()
        assert await reader.read(-1) == b"got hello"
        writer.close()
        server.close()
        up.close()

    run(scenario())


def test_the_pod_may_half_close_first_and_still_read() -> None:
    async def greet_then_read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"banner")
        writer.write_eof()
        rest = await reader.read(-1)
        greeted.set_result(rest)
        writer.close()

    greeted: asyncio.Future[bytes]

    async def scenario() -> None:
        nonlocal greeted
        greeted = asyncio.get_running_loop().create_future()
        up, target = await tcp_server(greet_then_read)
        server, address = await proxy(lambda: target)
        reader, writer = await asyncio.open_connection(*address)
        assert await reader.read(-1) == b"banner"
        writer.write(b"late words")
        writer.write_eof()
        assert await greeted == b"late words"
        writer.close()
        server.close()
        up.close()

    run(scenario())


def test_no_endpoint_resets_the_client_at_once() -> None:
    async def scenario() -> None:
        server, address = await proxy(lambda: None)
        assert await expect_reset(address) < 0.5
        server.close()

    run(scenario())


def test_a_refused_pod_connection_resets_the_client() -> None:
    closed = ("127.0.0.1", closed_port())  # a port nobody listens on

    async def scenario() -> None:
        server, address = await proxy(lambda: closed)
        assert await expect_reset(address) < 0.5
        server.close()

    run(scenario())


def test_a_pod_that_never_accepts_is_given_up_after_the_connect_timeout() -> None:
    async def scenario(target: Endpoint) -> None:
        server, address = await proxy(lambda: target, connect_timeout_s=0.3)
        took = await expect_reset(address)
        assert 0.25 < took < 2.0
        server.close()

    with full_backlog_listener() as target:  # connect() to it just hangs
        run(scenario(target))


def test_a_pod_reset_is_passed_on_to_the_client() -> None:
    async def reset_on_data(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()

    async def scenario() -> None:
        up, target = await tcp_server(reset_on_data)
        server, address = await proxy(lambda: target)
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"x")
        with pytest.raises(ConnectionResetError):
            await reader.read(1)
        writer.close()
        server.close()
        up.close()

    run(scenario())


def test_each_connection_picks_anew_and_open_connections_keep_their_pod() -> None:
    async def named(name: bytes) -> tuple[asyncio.Server, Endpoint]:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while await reader.read(100):
                writer.write(name)
            writer.close()

        return await tcp_server(handler)

    async def scenario() -> None:
        up_a, a = await named(b"A")
        up_b, b = await named(b"B")
        balancer = RoundRobin([a])
        server, address = await proxy(balancer.pick)

        first_reader, first_writer = await asyncio.open_connection(*address)
        first_writer.write(b".")
        assert await first_reader.read(1) == b"A"

        balancer.replace([b])
        second_reader, second_writer = await asyncio.open_connection(*address)
        second_writer.write(b".")
        assert await second_reader.read(1) == b"B"
        first_writer.write(b".")
        assert await first_reader.read(1) == b"A"  # the open connection stays on A

        for writer in (first_writer, second_writer):
            writer.close()
        server.close()
        up_a.close()
        up_b.close()

    run(scenario())


def test_a_client_gone_before_the_pod_answers_leaves_nothing_open() -> None:
    accepted: list[asyncio.StreamWriter] = []
    closed = asyncio.Event

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read(-1)  # returns when the proxy closes its side
        done.set()

    done: asyncio.Event

    async def scenario() -> None:
        nonlocal done
        done = closed()
        up, target = await tcp_server(hold)
        server, address = await proxy(lambda: target)
        _, writer = await asyncio.open_connection(*address)
        await wait_until_async(lambda: accepted, timeout_s=5, message="the pod's accept")
        writer.close()
        await asyncio.wait_for(done.wait(), 2)
        server.close()
        up.close()

    run(scenario())


def test_a_client_that_stops_reading_stops_the_pod_from_sending() -> None:
    chunk = b"z" * 65536
    sent = 0

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        while sent < 160 * 2**20:
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
        writer.close()

    async def scenario() -> None:
        up, target = await tcp_server(flood)
        server, address = await proxy(lambda: target)
        _, writer = await asyncio.open_connection(*address)
        seen = [-1]

        def stalled() -> bool:  # the pod sent nothing more for a quarter second
            seen.append(sent)
            return seen[-1] == seen[-2]

        # read nothing meanwhile; without flow control it stalls only after all 160 MiB
        await wait_until_async(stalled, timeout_s=10, interval_s=0.25, message="sending stalls")
        print(f"sent {sent / 2**20:.1f} MiB while the client read nothing")
        assert sent < 80 * 2**20  # socket buffers only; without flow control: all 160 MiB
        writer.transport.abort()
        server.close()
        up.close()

    run(scenario())


def test_finished_connections_leave_no_socket_open_in_the_proxy() -> None:
    async def answer_after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(-1))
        await writer.drain()
        writer.close()

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    async def scenario() -> None:
        up, target = await tcp_server(answer_after_eof)
        server, address = await proxy(lambda: target)
        before = open_fds()
        for _ in range(20):
            reader, writer = await asyncio.open_connection(*address)
            writer.write(b"ping")
            writer.write_eof()
            assert await reader.read(-1) == b"ping"
            writer.close()
            await writer.wait_closed()
        await wait_until_async(  # the last closes are processed on the next loop turns
            lambda: open_fds() <= before,
            timeout_s=1,
            interval_s=0.02,
            message=lambda: f"{before} open descriptors at most; {open_fds()} are open",
        )
        server.close()
        up.close()

    run(scenario())


class _Tracked:
    """A picker over one RoundRobin that tracks connections, as the Proxier's pickers do."""

    def __init__(self, balancer: RoundRobin) -> None:
        self.balancer = balancer

    def __call__(self) -> Endpoint | None:
        return self.balancer.pick()

    def track(self, endpoint: Endpoint, connection: Connection) -> Callable[[], None]:
        return self.balancer.track(endpoint, connection)


def test_an_endpoint_leaving_resets_its_open_connections_and_spares_the_others() -> None:
    async def scenario() -> None:
        first, first_address = await tcp_server(echo)
        second, second_address = await tcp_server(echo)
        balancer = RoundRobin([first_address, second_address])
        server, address = await proxy(_Tracked(balancer))
        to_first = await asyncio.open_connection(*address)
        to_second = await asyncio.open_connection(*address)
        for reader, writer in (to_first, to_second):  # both forwarded and answering
            writer.write(b"ping")
            assert await reader.readexactly(4) == b"ping"
        assert balancer.held == 2
        assert balancer.replace([second_address]) == 1
        with pytest.raises(ConnectionResetError):
            await to_first[0].read(1)
        to_second[1].write(b"still")  # the connection to the endpoint that stayed lives on
        assert await to_second[0].readexactly(5) == b"still"
        assert balancer.replace([second_address]) == 0  # nothing left to reset
        for _reader, writer in (to_first, to_second):
            writer.close()
        for closing in (server, first, second):
            closing.close()

    run(scenario())


def test_a_closed_connection_is_forgotten() -> None:
    async def scenario() -> None:
        pod, pod_address = await tcp_server(echo)
        balancer = RoundRobin([pod_address])
        server, address = await proxy(_Tracked(balancer))
        reader, writer = await asyncio.open_connection(*address)
        writer.write(b"x")
        assert await reader.readexactly(1) == b"x"
        assert balancer.held == 1
        writer.close()
        await writer.wait_closed()
        await wait_until_async(  # the proxy sees the close on one of its next loop turns
            lambda: balancer.held == 0,
            timeout_s=2,
            interval_s=0.02,
            message=lambda: f"no connection held; {balancer.held} are",
        )
        server.close()
        pod.close()

    run(scenario())
