"""The data path: accept a TCP connection, connect to one endpoint, copy bytes both ways.

Built on asyncio protocols and transports (``loop.create_server`` and
``loop.create_connection``) rather than streams: what arrives is handed straight to the other
socket's ``transport.write`` from the read callback, with no task, no ``await`` and no copy
loop per connection. ``bench/service_proxy.py`` measured, on the shared 2-core machine, about
0.07 ms added per keep-alive request and 0.3 ms per new connection; a streams version (two
copy tasks per connection) was no faster, and slower on new connections.

Per connection:

- ``pick()`` chooses the endpoint when the connection is accepted; ``None`` (no ready pod)
  resets the client at once, as kube-proxy's reject rule does;
- the connection to the pod gets ``connect_timeout_s``; a refused or timed-out connect resets
  the client;
- half-close is passed on (EOF from one side becomes ``shutdown(SHUT_WR)`` on the other; the
  pair closes when both sides have sent EOF); a reset on one side resets the other;
- flow control: when one side's write buffer is full, reading from the other side pauses;
- an endpoint that leaves its Service (pod not ready or gone, selector changed, Service
  deleted) has the connections forwarded to it through that Service reset. kube-proxy's
  iptables rules would let an established flow live on while the pod lives; here a chaos
  experiment that cuts a Service off (``chaosgate.chaos.k8s_actions.detach_service``) must
  cut the keep-alive connections a client pool holds too, or the fault would never show.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

from refstack.proxy.endpoints import Endpoint

__all__ = ["Connection", "Picker", "RoundRobin", "TrackingPicker", "start_forwarder"]

Picker = Callable[[], Endpoint | None]


class Connection(Protocol):
    """A forwarded connection that can be cut."""

    def reset(self) -> None: ...


@runtime_checkable
class TrackingPicker(Protocol):
    """A picker that also keeps the connections it handed an endpoint to, so it can reset
    them when that endpoint leaves; ``track`` returns the call that forgets the connection."""

    def __call__(self) -> Endpoint | None: ...

    def track(self, endpoint: Endpoint, connection: Connection) -> Callable[[], None]: ...


_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


class RoundRobin:
    """Endpoints of one Service port, handed out in turn; replaced as pods come and go."""

    def __init__(self, endpoints: list[Endpoint] | tuple[Endpoint, ...] = ()) -> None:
        self._endpoints = tuple(endpoints)
        self._next = 0
        self._connections: dict[Endpoint, set[Connection]] = {}

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self._endpoints

    def replace(self, endpoints: list[Endpoint] | tuple[Endpoint, ...]) -> int:
        """Use ``endpoints`` from now on; reset the connections of the ones that left.
        Returns how many connections were reset."""
        self._endpoints = tuple(endpoints)
        return self.reset_except(set(self._endpoints))

    @property
    def held(self) -> int:
        """How many forwarded connections are tracked now."""
        return sum(len(held) for held in self._connections.values())

    def reset_except(self, keep: set[Endpoint]) -> int:
        gone = [endpoint for endpoint in self._connections if endpoint not in keep]
        count = 0
        for endpoint in gone:
            for connection in self._connections.pop(endpoint):
                connection.reset()
                count += 1
        return count

    def track(self, endpoint: Endpoint, connection: Connection) -> Callable[[], None]:
        """Keep ``connection`` (to ``endpoint``) until the returned call forgets it; if the
        endpoint has already left, reset it at once."""
        if endpoint not in self._endpoints:
            connection.reset()
            return lambda: None
        self._connections.setdefault(endpoint, set()).add(connection)

        def forget() -> None:
            held = self._connections.get(endpoint)
            if held is not None:
                held.discard(connection)
                if not held:
                    del self._connections[endpoint]

        return forget

    def pick(self) -> Endpoint | None:
        endpoints = self._endpoints
        if not endpoints:
            return None
        index = self._next % len(endpoints)
        self._next = index + 1
        return endpoints[index]


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close ``transport`` with a TCP reset, so the peer sees ECONNRESET rather than EOF."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()


class _Side(asyncio.Protocol):
    """One socket of a forwarded pair; what it reads goes to ``peer``'s transport."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.eof = False  # this side has sent EOF (we may still write to it)
        self.lost = False
        self.on_lost: Callable[[], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.lost:
            peer.transport.write(data)

    def eof_received(self) -> bool:
        if self.eof:
            return True
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None or peer.lost:
            return False
        if peer.eof:  # both directions are done
            peer.transport.close()
            return False
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.on_lost is not None:
            self.on_lost()
        peer = self.peer
        if peer is None or peer.transport is None or peer.lost:
            return
        if exc is None:
            peer.transport.close()  # flushes what is buffered for the peer first
        else:
            _reset(peer.transport)

    # flow control: our transport's write buffer is filled by what the peer reads
    def pause_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.eof:
            peer.transport.pause_reading()

    def resume_writing(self) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.eof:
            peer.transport.resume_reading()


class _ClientSide(_Side):
    """The accepted connection: picks an endpoint and connects to it before reading."""

    def __init__(self, forwarder: _Forwarder) -> None:
        super().__init__()
        self._forwarder = forwarder
        self._forget: Callable[[], None] | None = None

    def reset(self) -> None:
        """Cut both sides with a TCP reset (the endpoint left its Service)."""
        for side in (self, self.peer):
            if side is not None and side.transport is not None and not side.lost:
                _reset(side.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self._untrack()

    def _untrack(self) -> None:
        forget, self._forget = self._forget, None
        if forget is not None:
            forget()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        endpoint = self._forwarder.pick()
        if endpoint is None:
            _reset(transport)
            return
        assert self.transport is not None
        self.transport.pause_reading()
        self._forwarder.spawn(self._connect(endpoint))

    async def _connect(self, endpoint: Endpoint) -> None:
        loop = asyncio.get_running_loop()
        upstream = _Side()
        try:
            async with asyncio.timeout(self._forwarder.connect_timeout_s):
                await loop.create_connection(lambda: upstream, endpoint[0], endpoint[1])
        except (OSError, TimeoutError):
            if not self.lost and self.transport is not None:
                _reset(self.transport)
            return
        assert upstream.transport is not None and self.transport is not None
        if self.lost:
            upstream.transport.close()
            return
        self.peer = upstream
        upstream.peer = self
        upstream.on_lost = self._untrack
        pick = self._forwarder.pick
        if isinstance(pick, TrackingPicker):
            self._forget = pick.track(endpoint, self)
        if not self.lost:
            self.transport.resume_reading()


class _Forwarder:
    """What the connections of one listener share: the picker and their connect tasks."""

    def __init__(self, pick: Picker, connect_timeout_s: float) -> None:
        self.pick = pick
        self.connect_timeout_s = connect_timeout_s
        self._tasks: set[asyncio.Task[None]] = set()  # the loop keeps only weak references

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def protocol(self) -> _ClientSide:
        return _ClientSide(self)


async def start_forwarder(
    host: str,
    port: int,
    pick: Picker,
    *,
    connect_timeout_s: float = 2.0,
    backlog: int = 1024,
) -> asyncio.Server:
    """Listen on ``host:port`` and forward each connection to the endpoint ``pick()`` returns.

    ``pick`` is called once per accepted connection, so changes to what it returns apply to
    new connections only. Close the returned server to stop accepting; connections already
    forwarded run on until either side closes.
    """
    loop = asyncio.get_running_loop()
    return await loop.create_server(
        _Forwarder(pick, connect_timeout_s).protocol,
        host,
        port,
        backlog=backlog,
        reuse_address=True,
    )
