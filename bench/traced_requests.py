"""The benchmarks' traffic: GETs of /api/menu through the gateway, each with its own trace id
(a ``traceparent``) and request id (``X-Request-ID``), so each can be looked up afterwards."""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

__all__ = ["send_traced_requests"]

CHUNK = 10_000  # requests between two progress lines


def _get(client: httpx.Client, gateway: str, trace_id: str, request_id: str) -> int:
    headers = {
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
        "X-Request-ID": request_id,
    }
    try:
        return client.get(f"{gateway}/api/menu", headers=headers).status_code
    except httpx.HTTPError:
        return 0


def send_traced_requests(gateway: str, count: int, workers: int) -> list[tuple[str, str]]:
    """``count`` requests over ``workers`` threads; their (trace id, request id) pairs. Exits
    the benchmark when one failed (the stack is not healthy enough to measure)."""
    ids = [(secrets.token_hex(16), f"bench-{secrets.token_hex(8)}") for _ in range(count)]
    started = time.time()
    statuses: list[int] = []
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with httpx.Client(timeout=10.0, limits=limits) as client, ThreadPoolExecutor(workers) as pool:
        for start in range(0, count, CHUNK):
            chunk = ids[start : start + CHUNK]
            statuses += pool.map(lambda pair: _get(client, gateway, *pair), chunk)
            print(f"  sent {len(statuses)}/{count} ({time.time() - started:.0f} s)", flush=True)
    bad = sum(1 for status in statuses if status != 200)
    if bad:
        raise SystemExit(f"{bad} of {count} requests failed; is the stack healthy?")
    return ids
