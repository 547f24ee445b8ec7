"""Benchmark: HTTP requests through the service proxy's forwarding code vs straight to the server.

All on loopback, no API server: one process runs a local HTTP server (the standard library's
threading server, HTTP/1.1 keep-alive), another runs ``start_forwarder`` with that server as
its only endpoint (as ``python -m refstack.proxy`` does for a Service port); this process
sends the same requests both ways, alternating, and prints requests/s, mean latency and the
ratio of the times (proxied / direct) for three patterns:

- ``keep-alive``: one connection, requests one after another (the added latency per request);
- ``new-conn``: a new connection per request (accept + connect to the pod on each);
- ``parallel``: ``--threads`` keep-alive connections at once (throughput on a shared CPU).

    .venv/bin/python bench/service_proxy.py --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import multiprocessing
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from refstack.proxy.forward import RoundRobin, start_forwarder

HOST = "127.0.0.1"
BODY = b'{"items": [' + b", ".join(b'{"id": %d, "name": "dish"}' % n for n in range(40)) + b"]}"
LIFETIME_S = 120  # the helper processes stop by themselves after this, whatever happens


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall between

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve_http(ready: Connection) -> None:
    server = ThreadingHTTPServer((HOST, 0), _Handler)
    server.daemon_threads = True
    threading.Timer(LIFETIME_S, server.shutdown).start()
    ready.send(server.server_address[1])
    server.serve_forever()


def _serve_proxy(target_port: int, ready: Connection) -> None:
    async def main() -> None:
        balancer = RoundRobin([(HOST, target_port)])
        server = await start_forwarder(HOST, 0, balancer.pick)
        ready.send(server.sockets[0].getsockname()[1])
        await asyncio.sleep(LIFETIME_S)

    asyncio.run(main())


def _start(target: Callable[..., None], *args: object) -> tuple[BaseProcess, int]:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, send), daemon=True)
    process.start()
    if not receive.poll(30):
        process.terminate()
        raise SystemExit(f"{target.__name__} did not start within 30 s")
    return process, int(receive.recv())


def _get(connection: http.client.HTTPConnection, close: bool = False) -> None:
    connection.request("GET", "/api/menu", headers={"Connection": "close"} if close else {})
    response = connection.getresponse()
    if response.status != 200 or response.read() != BODY:
        raise SystemExit(f"unexpected answer {response.status} from port {connection.port}")


def keep_alive(port: int, count: int) -> float:
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    started = time.perf_counter()
    for _ in range(count):
        _get(connection)
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def new_connections(port: int, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        connection = http.client.HTTPConnection(HOST, port, timeout=10)
        _get(connection, close=True)
        connection.close()
    return time.perf_counter() - started


def parallel(port: int, count: int, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda _: keep_alive(port, count // threads), range(threads)))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=2000, help="per pattern and path")
    parser.add_argument("--rounds", type=int, default=3, help="alternations direct/proxied")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()

    server, server_port = _start(_serve_http)
    proxy, proxy_port = _start(_serve_proxy, server_port)
    patterns: dict[str, Callable[[int, int], float]] = {
        "keep-alive": keep_alive,
        "new-conn": new_connections,
        "parallel": lambda port, count: parallel(port, count, args.threads),
    }
    per_round = max(1, args.requests // args.rounds)
    try:
        keep_alive(server_port, 200)  # warm up both paths
        keep_alive(proxy_port, 200)
        print(f"{args.requests} requests per pattern and path, {args.rounds} rounds, loopback")
        print(
            f"{'pattern':<11} {'direct req/s':>12} {'proxied req/s':>13} {'direct ms':>9} "
            f"{'proxied ms':>10} {'ratio':>6}"
        )
        for name, run in patterns.items():
            direct: list[float] = []
            proxied: list[float] = []
            for _ in range(args.rounds):
                direct.append(run(server_port, per_round))
                proxied.append(run(proxy_port, per_round))
            total = per_round * args.rounds
            d, p = sum(direct), sum(proxied)
            ratios = [b / a for a, b in zip(direct, proxied, strict=True)]
            print(
                f"{name:<11} {total / d:>12.0f} {total / p:>13.0f} {1000 * d / total:>9.3f} "
                f"{1000 * p / total:>10.3f} {p / d:>6.2f}   (rounds: "
                f"{', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f})"
            )
    finally:
        for process in (proxy, server):
            process.terminate()
            process.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
