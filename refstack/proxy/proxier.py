"""The proxy's state on the event loop: Services and Pods in, endpoints and listeners out.

Every change is applied on the loop thread (the watch threads hand it over with
``loop.call_soon_threadsafe``, see :class:`LoopSink`). Endpoints are recomputed at once, so
the next accepted connection already sees them (a Service whose selector stops matching
rejects its next connection); listeners are opened and closed by one reconcile task.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Sequence
from functools import partial

from refstack.proxy.endpoints import Endpoint, endpoints_for
from refstack.proxy.forward import Connection, Picker, RoundRobin, start_forwarder
from refstack.proxy.listeners import ListenerKey, Route, diff_listeners, plan_listeners
from refstack.proxy.model import PodInfo, ServiceInfo

__all__ = ["KINDS", "LoopSink", "Proxier", "StartForwarder"]

KINDS = ("services", "pods")

StartForwarder = Callable[[str, int, Picker], Awaitable[asyncio.AbstractServer]]

_log = logging.getLogger("refstack.proxy")


def _format(endpoints: Iterable[Endpoint]) -> str:
    return ", ".join(f"{ip}:{port}" for ip, port in endpoints) or "(none)"


class Proxier:
    """Services and Pods -> endpoint sets (one round robin per Service port) and listeners."""

    def __init__(
        self,
        node_ip: str,
        *,
        start: StartForwarder | None = None,
        connect_timeout_s: float = 2.0,
        retry_bind_s: float = 2.0,
    ) -> None:
        self._node_ip = node_ip
        self._start: StartForwarder = start or partial(
            start_forwarder, connect_timeout_s=connect_timeout_s
        )
        self._retry_bind_s = retry_bind_s
        self._services: dict[str, ServiceInfo] = {}
        self._pods: dict[str, dict[str, PodInfo]] = {}  # namespace -> name -> pod
        self._balancers: dict[Route, RoundRobin] = {}
        self._routes: dict[ListenerKey, Route] = {}
        self._servers: dict[ListenerKey, asyncio.AbstractServer] = {}
        self._bind_errors: dict[ListenerKey, str] = {}
        self._synced = dict.fromkeys(KINDS, False)
        self._dirty = asyncio.Event()
        # read by the health server's thread: replaced whole, never mutated
        self.health: tuple[bool, str] = (False, "not synced yet: services, pods")

    # ---- what the watchers report (on the loop thread) ----

    def replaced(self, kind: str, items: Sequence[ServiceInfo | PodInfo]) -> None:
        if kind == "services":
            before = list(self._services.values())
            self._services = {s.ref: s for s in items if isinstance(s, ServiceInfo)}
            self._refresh([*before, *self._services.values()])
            self._replan()
        else:
            pods: dict[str, dict[str, PodInfo]] = {}
            for pod in items:
                if isinstance(pod, PodInfo):
                    pods.setdefault(pod.namespace, {})[pod.name] = pod
            self._pods = pods
            self._refresh(self._services.values())
        if not self._synced[kind]:
            _log.info("%s in sync (%d)", kind, len(items))
        self._synced[kind] = True
        self._update_health()

    def changed(self, kind: str, event: str, item: ServiceInfo | PodInfo) -> None:
        if isinstance(item, ServiceInfo):
            if event == "DELETED":
                self._services.pop(item.ref, None)
            else:
                self._services[item.ref] = item
            self._refresh([item])
            self._replan()
        else:
            namespace = self._pods.setdefault(item.namespace, {})
            if event == "DELETED":
                namespace.pop(item.name, None)
            else:
                namespace[item.name] = item
            self._refresh(s for s in self._services.values() if s.namespace == item.namespace)
        self._update_health()

    def lost(self, kind: str, reason: str) -> None:
        self._synced[kind] = False
        self._update_health()

    # ---- endpoints ----

    def pick(self, key: ListenerKey) -> Endpoint | None:
        """The endpoint for a new connection to ``key`` (None: reject it)."""
        route = self._routes.get(key)
        balancer = self._balancers.get(route) if route is not None else None
        return balancer.pick() if balancer is not None else None

    def track(
        self, key: ListenerKey, endpoint: Endpoint, connection: Connection
    ) -> Callable[[], None]:
        """Keep a connection forwarded through ``key`` so it is reset if ``endpoint`` leaves."""
        route = self._routes.get(key)
        balancer = self._balancers.get(route) if route is not None else None
        if balancer is None:
            connection.reset()
            return lambda: None
        return balancer.track(endpoint, connection)

    def endpoints(self, route: Route) -> tuple[Endpoint, ...]:
        balancer = self._balancers.get(route)
        return balancer.endpoints if balancer is not None else ()

    def _refresh(self, services: Iterable[ServiceInfo]) -> None:
        """Recompute the endpoints of ``services`` (current or just deleted ones)."""
        for service in list(services):
            current = self._services.get(service.ref)
            wanted: dict[Route, list[Endpoint]] = {}
            if current is not None:
                pods = self._pods.get(current.namespace, {}).values()
                for port, found in endpoints_for(current, pods).items():
                    wanted[Route(current.namespace, current.name, port)] = found
            stale = [
                route
                for route in self._balancers
                if (route.namespace, route.name) == (service.namespace, service.name)
                and route not in wanted
            ]
            for route in stale:
                cut = self._balancers.pop(route).reset_except(set())
                _log.info("endpoints %s removed (%d connections reset)", route, cut)
            for route, found in wanted.items():
                balancer = self._balancers.get(route)
                if balancer is None:
                    self._balancers[route] = RoundRobin(found)
                    _log.info("endpoints %s = %s", route, _format(found))
                elif list(balancer.endpoints) != found:
                    cut = balancer.replace(found)
                    _log.info(
                        "endpoints %s = %s (%d connections reset)", route, _format(found), cut
                    )

    # ---- listeners ----

    def _replan(self) -> None:
        plan = plan_listeners(self._services.values(), self._node_ip)
        for conflict in plan.conflicts:
            _log.warning("listener conflict: %s", conflict)
        self._routes = plan.routes
        self._dirty.set()

    async def _reconcile(self) -> None:
        diff = diff_listeners(self._routes.keys(), self._servers.keys())
        for key in diff.close:
            self._servers.pop(key).close()
            _log.info("listener %s closed", key)
        for key in list(self._bind_errors):
            if key not in self._routes:
                del self._bind_errors[key]
        for key in diff.open:
            try:
                server = await self._start(key.host, key.port, _ListenerPicker(self, key))
            except OSError as exc:
                reason = os.strerror(exc.errno) if exc.errno else str(exc)
                if self._bind_errors.get(key) != reason:
                    _log.warning(
                        "listener %s -> %s cannot open: %s; retrying every %.0f s",
                        key,
                        self._routes.get(key),
                        reason,
                        self._retry_bind_s,
                    )
                self._bind_errors[key] = reason
                continue
            self._bind_errors.pop(key, None)
            if key in self._routes:
                self._servers[key] = server
                _log.info("listener %s open -> %s", key, self._routes[key])
            else:  # the Service went away while we were binding
                server.close()
        if self._bind_errors:
            asyncio.get_running_loop().call_later(self._retry_bind_s, self._dirty.set)
        self._update_health()

    def _update_health(self) -> None:
        missing = [kind for kind in KINDS if not self._synced[kind]]
        if missing:
            self.health = (False, f"not synced with the API server: {', '.join(missing)}")
            return
        pending = sorted(set(self._routes) - set(self._servers))
        if pending:
            detail = ", ".join(
                f"{key} ({self._bind_errors.get(key, 'opening')})" for key in pending[:5]
            )
            self.health = (False, f"listeners not open: {detail}")
            return
        self.health = (True, "ok")

    @property
    def open_listeners(self) -> frozenset[ListenerKey]:
        return frozenset(self._servers)

    async def run(self, stop: asyncio.Event) -> None:
        """Open and close listeners as wanted until ``stop`` is set, then close them all."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                dirty = asyncio.ensure_future(self._dirty.wait())
                await asyncio.wait({dirty, stopping}, return_when=asyncio.FIRST_COMPLETED)
                dirty.cancel()
                if stop.is_set():
                    break
                self._dirty.clear()
                await self._reconcile()
        finally:
            stopping.cancel()
            for key in sorted(self._servers):
                self._servers.pop(key).close()
                _log.info("listener %s closed", key)


class _ListenerPicker:
    """The picker of one listener: endpoints from the Proxier, connections tracked by it."""

    def __init__(self, proxier: Proxier, key: ListenerKey) -> None:
        self._proxier = proxier
        self._key = key

    def __call__(self) -> Endpoint | None:
        return self._proxier.pick(self._key)

    def track(self, endpoint: Endpoint, connection: Connection) -> Callable[[], None]:
        return self._proxier.track(self._key, endpoint, connection)


class LoopSink:
    """A watcher's sink that hands every report to a :class:`Proxier` on its event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, proxier: Proxier) -> None:
        self._loop = loop
        self._proxier = proxier

    def replaced(self, kind: str, items: Sequence[ServiceInfo | PodInfo]) -> None:
        self._loop.call_soon_threadsafe(self._proxier.replaced, kind, items)

    def changed(self, kind: str, event: str, item: ServiceInfo | PodInfo) -> None:
        self._loop.call_soon_threadsafe(self._proxier.changed, kind, event, item)

    def lost(self, kind: str, reason: str) -> None:
        self._loop.call_soon_threadsafe(self._proxier.lost, kind, reason)
