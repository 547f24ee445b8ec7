"""The proxier on a real event loop with real loopback listeners (no API server: the
watchers' reports are handed in directly, as ``LoopSink`` would)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

import pytest

from refstack.proxy.listeners import ListenerKey, Route
from refstack.proxy.model import PodInfo, ServiceInfo, ServicePortInfo
from refstack.proxy.proxier import LoopSink, Proxier
from tests.support.servers import tcp_server
from tests.support.waiting import wait_until_async

NODE_IP = "127.0.0.1"
LABELS = {"app.kubernetes.io/name": "orders"}


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


CLUSTER_IP = "10.251.0.7"
SERVICE_HOST = "127.251.0.7"
PORT = free_port(SERVICE_HOST)
NODE_PORT = free_port(NODE_IP)
SERVICE = ServiceInfo(
    namespace="restaurant",
    name="orders",
    cluster_ip=CLUSTER_IP,
    type="NodePort",
    selector=LABELS,
    ports=(ServicePortInfo(port=PORT, name="http", target_port="http", node_port=NODE_PORT),),
)
ROUTE = Route("restaurant", "orders", "http")
CLUSTER_KEY = ListenerKey(SERVICE_HOST, PORT)
NODE_KEY = ListenerKey(NODE_IP, NODE_PORT)


def pod(name: str, ip: str, port: int, *, ready: bool = True) -> PodInfo:
    return PodInfo(
        namespace="restaurant",
        name=name,
        labels=LABELS,
        ip=ip,
        ready=ready,
        named_ports={"http": port},
    )


@contextlib.asynccontextmanager
async def pod_server(ip: str, reply: bytes) -> AsyncIterator[int]:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(reply)
        await writer.drain()
        writer.close()

    server, (_, port) = await tcp_server(handler, ip)
    try:
        yield port
    finally:
        server.close()


async def request(key: ListenerKey) -> bytes:
    reader, writer = await asyncio.open_connection(key.host, key.port)
    try:
        writer.write(b"hi")
        return await reader.read(-1)
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def running(proxier: Proxier) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(proxier.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, 3)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(scenario(), 20)

    asyncio.run(bounded())


def test_health_waits_for_both_kinds_and_the_listeners() -> None:
    async def scenario() -> None:
        proxier = Proxier(NODE_IP)
        assert proxier.health == (False, "not synced yet: services, pods")
        async with running(proxier):
            proxier.replaced("services", [SERVICE])
            assert proxier.health == (False, "not synced with the API server: pods")
            proxier.replaced("pods", [])
            assert not proxier.health[0]  # listeners still opening
            await wait_until_async(lambda: proxier.health[0], timeout_s=3, message="healthy")
            assert proxier.health == (True, "ok")
            assert proxier.open_listeners == {CLUSTER_KEY, NODE_KEY}
            proxier.lost("pods", "connection refused")
            assert proxier.health == (False, "not synced with the API server: pods")
            proxier.replaced("pods", [])
            assert proxier.health == (True, "ok")
        assert proxier.open_listeners == frozenset()

    run(scenario)


def test_cluster_ip_and_node_port_reach_the_ready_pods_in_turn() -> None:
    async def scenario() -> None:
        async with pod_server("127.1.0.2", b"A") as port_a, pod_server("127.1.0.3", b"B") as port_b:
            proxier = Proxier(NODE_IP)
            async with running(proxier):
                proxier.replaced("services", [SERVICE])
                proxier.replaced(
                    "pods", [pod("a", "127.1.0.2", port_a), pod("b", "127.1.0.3", port_b)]
                )
                await wait_until_async(lambda: proxier.health[0], timeout_s=3, message="healthy")
                answers = [await request(key) for key in (CLUSTER_KEY, NODE_KEY) * 2]
                assert sorted(answers) == [b"A", b"A", b"B", b"B"]
                assert proxier.endpoints(ROUTE) == (("127.1.0.2", port_a), ("127.1.0.3", port_b))

    run(scenario)


def test_unready_pod_selector_patch_and_deleted_service_stop_new_connections_at_once() -> None:
    async def scenario() -> None:
        async with pod_server("127.1.0.2", b"A") as port:
            proxier = Proxier(NODE_IP)
            ready = pod("a", "127.1.0.2", port)
            async with running(proxier):
                proxier.replaced("services", [SERVICE])
                proxier.replaced("pods", [ready])
                await wait_until_async(lambda: proxier.health[0], timeout_s=3, message="healthy")
                assert await request(CLUSTER_KEY) == b"A"

                proxier.changed("pods", "MODIFIED", replace(ready, ready=False))
                assert proxier.pick(CLUSTER_KEY) is None  # no await needed: already applied
                with pytest.raises(ConnectionResetError):
                    await request(CLUSTER_KEY)

                proxier.changed("pods", "MODIFIED", ready)
                assert proxier.pick(CLUSTER_KEY) == ("127.1.0.2", port)
                patched = replace(SERVICE, selector={"app.kubernetes.io/name": "nobody"})
                proxier.changed("services", "MODIFIED", patched)
                assert proxier.pick(CLUSTER_KEY) is None
                with pytest.raises(ConnectionResetError):
                    await request(NODE_KEY)

                proxier.changed("services", "MODIFIED", SERVICE)
                assert await request(NODE_KEY) == b"A"
                proxier.changed("pods", "DELETED", ready)
                assert proxier.pick(NODE_KEY) is None

                proxier.changed("pods", "ADDED", ready)
                proxier.changed("services", "DELETED", SERVICE)
                assert proxier.pick(CLUSTER_KEY) is None
                assert proxier.endpoints(ROUTE) == ()
                await wait_until_async(
                    lambda: not proxier.open_listeners, timeout_s=3, message="listeners closed"
                )
                with pytest.raises(ConnectionRefusedError):
                    await request(CLUSTER_KEY)
                assert proxier.health == (True, "ok")

    run(scenario)


def test_a_relist_forgets_services_deleted_meanwhile() -> None:
    async def scenario() -> None:
        proxier = Proxier(NODE_IP)
        async with running(proxier):
            proxier.replaced("services", [SERVICE])
            proxier.replaced("pods", [pod("a", "127.1.0.2", 8081)])
            assert proxier.pick(CLUSTER_KEY) == ("127.1.0.2", 8081)
            await wait_until_async(
                lambda: proxier.open_listeners == {CLUSTER_KEY, NODE_KEY},
                timeout_s=3,
                message="open",
            )
            proxier.replaced("services", [])
            assert proxier.pick(CLUSTER_KEY) is None
            assert proxier.endpoints(ROUTE) == ()
            await wait_until_async(
                lambda: not proxier.open_listeners, timeout_s=3, message="listeners closed"
            )

    run(scenario)


def test_an_address_in_use_makes_it_unhealthy_until_the_listener_opens() -> None:
    async def scenario() -> None:
        squatter = socket.socket()
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAITs
        squatter.bind((SERVICE_HOST, PORT))
        squatter.listen()
        proxier = Proxier(NODE_IP, retry_bind_s=0.05)
        async with running(proxier):
            proxier.replaced("services", [SERVICE])
            proxier.replaced("pods", [])
            await wait_until_async(
                lambda: proxier.open_listeners == {NODE_KEY},
                timeout_s=3,
                message="the free listener",
            )
            healthy, detail = proxier.health
            assert not healthy
            assert f"{CLUSTER_KEY} (Address already in use)" in detail
            squatter.close()
            await wait_until_async(
                lambda: proxier.health[0], timeout_s=3, message="healthy after the retry"
            )
            assert proxier.open_listeners == {CLUSTER_KEY, NODE_KEY}

    run(scenario)


def test_loop_sink_hands_reports_over_from_another_thread() -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        proxier = Proxier(NODE_IP)
        sink = LoopSink(loop, proxier)
        await asyncio.to_thread(sink.replaced, "services", [SERVICE])
        await asyncio.to_thread(sink.replaced, "pods", [])
        await asyncio.to_thread(sink.changed, "pods", "ADDED", pod("a", "127.1.0.2", 8081))
        await wait_until_async(
            lambda: proxier.pick(CLUSTER_KEY) is not None, timeout_s=3, message="the pod"
        )
        await asyncio.to_thread(sink.lost, "services", "timeout")
        await wait_until_async(lambda: not proxier.health[0], timeout_s=3, message="out of sync")
        assert proxier.health[1] == "not synced with the API server: services"

    run(scenario)
