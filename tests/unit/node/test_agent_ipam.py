"""Pod IPs from the loopback pod CIDR."""

from __future__ import annotations

import pytest

from refstack.node.ipam import PodIpExhaustedError, PodIpPool


def test_addresses_skip_reserved_last_octets_and_are_unique() -> None:
    pool = PodIpPool("127.2.0.0/16")
    addresses = [pool.allocate(f"pod-{i}") for i in range(600)]
    assert len(set(addresses)) == 600
    assert addresses[0] == "127.2.0.2"
    assert all(int(a.rsplit(".", 1)[1]) not in (0, 1, 255) for a in addresses)
    assert "127.2.1.2" in addresses  # crossed into the next /24


def test_an_owner_keeps_its_address() -> None:
    pool = PodIpPool("127.2.0.0/24")
    assert pool.allocate("a") == pool.allocate("a")


def test_released_addresses_are_reused_last() -> None:
    pool = PodIpPool("127.2.0.0/24")
    first = pool.allocate("a")
    pool.release("a")
    assert pool.allocate("b") != first


def test_a_preferred_address_is_honoured_when_free_and_usable() -> None:
    pool = PodIpPool("127.2.0.0/24", reserved=["127.2.0.9"])
    assert pool.allocate("a", preferred="127.2.0.50") == "127.2.0.50"
    assert pool.allocate("b", preferred="127.2.0.50") != "127.2.0.50"  # held by a
    assert pool.allocate("c", preferred="127.2.0.9") != "127.2.0.9"  # reserved
    assert pool.allocate("d", preferred="127.3.0.5") != "127.3.0.5"  # outside
    assert pool.allocate("e", preferred="127.2.0.255") != "127.2.0.255"
    assert len(set(pool.held().values())) == 5


def test_exhaustion_names_the_cidr_and_the_fix() -> None:
    pool = PodIpPool("127.2.0.0/29")  # .0 network, .7 broadcast, .1 reserved: .2-.6 usable
    got = {pool.allocate(str(i)) for i in range(5)}
    assert got == {f"127.2.0.{i}" for i in range(2, 7)}
    with pytest.raises(PodIpExhaustedError, match=r"'127\.2\.0\.0/29'.*larger pod_cidr"):
        pool.allocate("one-too-many")
    pool.release("3")
    assert pool.allocate("again") == "127.2.0.5"


def test_reserved_addresses_are_never_handed_out() -> None:
    pool = PodIpPool("127.0.0.0/29", reserved=["127.0.0.2"])
    got = {pool.allocate(str(i)) for i in range(4)}
    assert "127.0.0.2" not in got
    assert not pool.usable("127.0.0.2")
    assert pool.usable("127.0.0.3")
