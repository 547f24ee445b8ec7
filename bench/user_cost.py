"""Benchmark: CPU per request of chaosgate's simulated user against a bare FastHttpUser.

In one run, against the same endpoint and route, with the same users and no wait, it runs
Locust headless twice (per round): (a) a bare ``FastHttpUser`` sending ``GET <route>``, and (b)
chaosgate's user sending the same GET through ``TracedUser.call`` (fresh ids and headers, the
route name, the reply judged and its JSON decoded) with the ledger written
(``LedgerRecorder``, as a run records it). It prints the CPU seconds per request of both, and
their ratio; issue 12's bar is a ratio of at most 1.25 (exit 1 when the median of the rounds'
ratios is above it). ``--rounds N`` alternates the order (a-b, then b-a); ``--together`` runs
both variants of a round at the same time, so that on a machine others keep busy both meet the
same contention (run one after the other, one may meet a quiet machine and the other a busy
one: on this 2-core machine at a load average of 10 the per-round ratios of sequential runs
spread from 1.06 to 1.47, those of together runs from 1.15 to 1.21).

How CPU is measured: inside the Locust process, ``time.process_time()`` (user + system CPU of
the whole process, every thread) from ``test_start`` to the end of ``test_stop`` (after the
ledger's last flush), divided by the requests Locust counted in that window. In-process rather
than ``psutil`` from outside, so that the interpreter's start and the locustfile's imports
(about a second of CPU, a constant that would blur a per-request figure) stay out, and the
window is exactly the load's, closing flush included.

The endpoint: ``--host URL`` (default: the local stack's gateway, resolved from
``CHAOSGATE_PORT_*`` as the CLI does), or ``--serve-locally``: a small HTTP/1.1 server of the
bench's own (gevent's WSGI server, keep-alive, a menu-sized JSON body) in a process of its own
on 127.0.0.1, stopped by its PID at the end.

    .venv/bin/python bench/user_cost.py --serve-locally --users 8 --seconds 20
    .venv/bin/python bench/user_cost.py --serve-locally --seconds 10 --rounds 3 --together
    .venv/bin/python bench/user_cost.py --users 8 --seconds 20          # the local stack

When Locust imports this file (the bench starts it with ``-f`` this file) it is the
locustfile: the two user classes below, and the listener that writes the measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULT_ENV = "BENCH_USER_COST_RESULT"  # where the Locust process writes its figures
LEDGER_ENV = "BENCH_USER_COST_LEDGER"  # the ledger directory of the chaosgate variant
ROUTE_ENV = "BENCH_USER_COST_ROUTE"
BAR = 1.25
VARIANTS = ("BareFastHttpUser", "ChaosgateUser")
MENU = [
    {"id": number, "name": f"dish {number}", "price_cents": 900 + 50 * number, "available": True}
    for number in range(1, 9)
]


@dataclass(frozen=True)
class Figures:
    variant: str
    cpu_s: float
    requests: int
    failures: int
    wall_s: float

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000.0 * self.cpu_s / self.requests


# --- the local endpoint ---------------------------------------------------------------------


def serve(port_file: Path) -> None:
    """The loopback server (run in its own process): every request, read up to the end of its
    headers, is answered the menu as JSON in one write, on a kept-alive connection (one write,
    and TCP_NODELAY: no delayed-ACK stall between headers and body)."""
    import socket

    from gevent.server import StreamServer

    body = json.dumps(MENU).encode()
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )

    def handle(connection: socket.socket, _: object) -> None:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        received = b""
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                return
            received += chunk
            requests = received.count(b"\r\n\r\n")  # GETs: no request body
            if requests:
                received = received[received.rindex(b"\r\n\r\n") + 4 :]
                connection.sendall(answer * requests)

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    port_file.write_text(str(server.server_port))
    server.serve_forever()


@contextmanager
def local_server(scratch: Path) -> Iterator[str]:
    port_file = scratch / "port"
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port_file)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the bench's local server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        with suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def stack_gateway() -> str:
    from chaosgate.target import local_target
    from refstack.launcher.ports import resolve_ports

    return local_target(resolve_ports(os.environ)).gateway_url


# --- one measured Locust run ----------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    variant: str
    proc: subprocess.Popen[bytes]
    result: Path
    ledger: Path | None
    log: Path


def start_variant(
    variant: str, host: str, route: str, users: int, seconds: int, scratch: Path
) -> Started:
    result = scratch / f"{variant}-{time.monotonic_ns()}.json"
    ledger = scratch / f"ledger-{result.stem}" if variant == "ChaosgateUser" else None
    env = {
        **os.environ,
        RESULT_ENV: str(result),
        ROUTE_ENV: route,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    if ledger is not None:
        env[LEDGER_ENV] = str(ledger)
    command = [
        sys.executable, "-m", "locust", "-f", __file__, "--headless",
        "--host", host, "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{seconds}s", "--stop-timeout", "2", "--only-summary",
        "--loglevel", "WARNING", variant,
    ]  # fmt: skip
    log = scratch / f"{result.stem}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=scratch, env=env, stdout=out, stderr=subprocess.STDOUT)
    return Started(variant, proc, result, ledger, log)


def finish_variant(started: Started, seconds: int) -> Figures:
    try:
        code = started.proc.wait(timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        started.proc.kill()
        code = started.proc.wait()
    if not started.result.exists():
        raise SystemExit(
            f"{started.variant}: Locust exited {code} without figures; see {started.log}"
        )
    figures = json.loads(started.result.read_text())
    if started.ledger is not None:  # the ledger holds every request Locust counted
        lines = sum(
            1 for path in started.ledger.glob("ledger-*.jsonl") for _ in path.open(encoding="utf-8")
        )
        if lines != figures["requests"]:
            raise SystemExit(
                f"{started.variant}: the ledger holds {lines} entries, Locust counted"
                f" {figures['requests']} requests"
            )
    return Figures(variant=started.variant, **figures)


def measure_round(
    order: tuple[str, ...], host: str, args: argparse.Namespace, scratch: Path
) -> list[Figures]:
    """Both variants, one after the other in ``order``, or both at once (``--together``)."""
    if args.together:
        started = [
            start_variant(v, host, args.route, args.users, args.seconds, scratch) for v in order
        ]
        return [finish_variant(one, args.seconds) for one in started]
    return [
        finish_variant(
            start_variant(v, host, args.route, args.users, args.seconds, scratch), args.seconds
        )
        for v in order
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="the endpoint (default: the local stack's gateway)")
    parser.add_argument(
        "--serve-locally", action="store_true", help="serve the route from a local process"
    )
    parser.add_argument("--route", default="/api/menu", help="the GET route (default /api/menu)")
    parser.add_argument("--users", type=int, default=8, help="Locust users (default 8)")
    parser.add_argument("--seconds", type=int, default=20, help="seconds per variant (default 20)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds of both variants (default 1; the order alternates, a-b then b-a)",
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="run both variants at the same time (both meet the same busy machine)",
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the server's own process
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0
    if args.host and args.serve_locally:
        parser.error("--host and --serve-locally exclude each other")

    with tempfile.TemporaryDirectory(prefix="chaosgate-user-cost-") as scratch_dir:
        scratch = Path(scratch_dir)
        with (
            local_server(scratch)
            if args.serve_locally
            else _given(args.host or stack_gateway()) as host
        ):
            print(
                f"endpoint {host}{args.route}, {args.users} users, no wait, {args.seconds} s each"
            )
            runs: list[Figures] = []
            ratios: list[float] = []
            for number in range(args.rounds):
                order = VARIANTS if number % 2 == 0 else VARIANTS[::-1]
                measured = measure_round(order, host, args, scratch)
                for figures in measured:
                    print(
                        f"  {figures.variant:<18} {figures.requests:>8} requests"
                        f" ({figures.requests / figures.wall_s:7.0f}/s, {figures.failures} failed)"
                        f"  {figures.cpu_s:6.2f} s CPU  {figures.cpu_ms_per_request:.4f} ms/request"
                    )
                by_variant = {figures.variant: figures for figures in measured}
                ratios.append(
                    by_variant[VARIANTS[1]].cpu_ms_per_request
                    / by_variant[VARIANTS[0]].cpu_ms_per_request
                )
                runs.extend(measured)
    bare, ours = (_per_request([run for run in runs if run.variant == v]) for v in VARIANTS)
    ratio = statistics.median(ratios)
    per_round = ", ".join(f"{one:.2f}" for one in ratios)
    print(
        f"CPU per request: bare FastHttpUser {bare:.4f} ms, chaosgate's user {ours:.4f} ms"
        f" (all rounds), ratio {ours / bare:.2f}; per round {per_round},"
        f" median {ratio:.2f} (bar {BAR}: {'met' if ratio <= BAR else 'NOT met'})"
    )
    return 0 if ratio <= BAR else 1


def _per_request(runs: list[Figures]) -> float:
    return 1000.0 * sum(run.cpu_s for run in runs) / sum(run.requests for run in runs)


@contextmanager
def _given(host: str) -> Iterator[str]:
    yield host.rstrip("/")


# --- the locustfile (when Locust imports this file) ----------------------------------------


def _install_locustfile() -> None:
    from locust import constant, events, task
    from locust.contrib.fasthttp import FastHttpUser

    from scenarios.base import TracedUser
    from scenarios.recorder import LedgerRecorder, listen

    route = os.environ.get(ROUTE_ENV, "/api/menu")
    ledger = os.environ.get(LEDGER_ENV)
    if ledger:
        LedgerRecorder(Path(ledger)).install(events)
    window: dict[str, float] = {}

    def on_test_start(**_: Any) -> None:
        window["cpu"], window["wall"] = time.process_time(), time.monotonic()

    def on_test_stop(environment: Any, **_: Any) -> None:  # after the recorder's own
        cpu_s, wall_s = time.process_time() - window["cpu"], time.monotonic() - window["wall"]
        total = environment.runner.stats.total
        figures = {
            "cpu_s": cpu_s,
            "wall_s": wall_s,
            "requests": total.num_requests,
            "failures": total.num_failures,
        }
        Path(os.environ[RESULT_ENV]).write_text(json.dumps(figures))

    listen(events.test_start, on_test_start)
    listen(events.test_stop, on_test_stop)

    class BareFastHttpUser(FastHttpUser):
        wait_time = constant(0)

        @task
        def get(self) -> None:
            self.client.get(route)

    class ChaosgateUser(TracedUser):
        wait_time = constant(0)

        @task
        def get(self) -> None:
            self.call("GET", route)

    globals().update(BareFastHttpUser=BareFastHttpUser, ChaosgateUser=ChaosgateUser)


if __name__ == "__main__":
    sys.exit(main())
elif os.environ.get(RESULT_ENV):
    _install_locustfile()
