"""Pod IP addresses from the node's loopback ``pod_cidr`` (pure, no I/O).

Every address whose last octet is 0, 1 or 255 is reserved (so are the network and
broadcast addresses and any address handed in as ``reserved``, e.g. the node's own IP):
``127.x.y.1`` looks like a gateway and ``.0``/``.255`` like network/broadcast addresses to
tools that assume /24s. Addresses are handed out round-robin, so one that was just
released (sockets in TIME_WAIT, a client still caching it) is reused as late as possible;
an address held by a live pod is never handed out twice.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterable

__all__ = ["PodIpExhaustedError", "PodIpPool"]

_RESERVED_LAST_OCTETS = frozenset({0, 1, 255})


class PodIpExhaustedError(Exception):
    """Every usable address of the pod CIDR is held by a live pod."""


class PodIpPool:
    """Who holds which address of ``cidr``; safe to use from several threads."""

    def __init__(self, cidr: str, reserved: Iterable[str] = ()) -> None:
        self._network = ipaddress.IPv4Network(cidr, strict=True)
        self._reserved = {int(ipaddress.IPv4Address(a)) for a in reserved}
        self._first = int(self._network.network_address)
        self._size = self._network.num_addresses
        self._cursor = 0
        self._owners: dict[str, int] = {}  # owner -> address
        self._held: set[int] = set()
        self._lock = threading.Lock()

    def usable(self, address: str) -> bool:
        """Whether ``address`` is in the pool and not reserved (held or not)."""
        try:
            value = int(ipaddress.IPv4Address(address))
        except ValueError:
            return False
        return self._usable(value)

    def _usable(self, value: int) -> bool:
        offset = value - self._first
        return (
            0 < offset < self._size - 1
            and value & 0xFF not in _RESERVED_LAST_OCTETS
            and value not in self._reserved
        )

    def allocate(self, owner: str, preferred: str | None = None) -> str:
        """The address of ``owner`` (a pod UID): its current one, ``preferred`` if free, else
        the next free one after the last handed out."""
        with self._lock:
            if owner in self._owners:
                return str(ipaddress.IPv4Address(self._owners[owner]))
            if preferred and self.usable(preferred):
                value = int(ipaddress.IPv4Address(preferred))
                if value not in self._held:
                    return self._take(owner, value)
            for step in range(1, self._size + 1):
                offset = (self._cursor + step) % self._size
                value = self._first + offset
                if value not in self._held and self._usable(value):
                    self._cursor = offset
                    return self._take(owner, value)
        raise PodIpExhaustedError(
            f"no free pod IP left in {str(self._network)!r} ({len(self._held)} held); "
            "delete pods or give the node a larger pod_cidr"
        )

    def _take(self, owner: str, value: int) -> str:
        self._owners[owner] = value
        self._held.add(value)
        return str(ipaddress.IPv4Address(value))

    def release(self, owner: str) -> None:
        """Give ``owner``'s address back (nothing happens when it holds none)."""
        with self._lock:
            value = self._owners.pop(owner, None)
            if value is not None:
                self._held.discard(value)

    def held(self) -> dict[str, str]:
        """Owner -> address, for every address in use."""
        with self._lock:
            return {o: str(ipaddress.IPv4Address(v)) for o, v in self._owners.items()}
