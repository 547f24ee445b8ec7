"""Benchmark: verifying a large ledger, Jaeger's span store against Jaeger's API, on the same ids.

Takes its ids from N requests it sends through the gateway (each with its own traceparent and
X-Request-ID; it then waits until a sample of 2,000 of them is searchable, so that the timed
lookups do not meet caches the waiting warmed) or from a past run's ledger (``--ledger DIR``).
Then times, in the same run and on the same ids, each lookup once:

- trace presence in Jaeger's span store (``SpanStoreBackend.find_traces``: ``terms`` filter +
  ``terms`` aggregation on ``traceID``, 1,000 ids a search, bounded by the ids' time range);
- trace presence through Jaeger's API (``JaegerBackend.find_traces``, batched, as today);
- request ids in the log store (``ElasticsearchBackend.find_ids``, 1,000 ids a search);

and prints each time, what each found, the ratio Jaeger API / span store, and whether the
span store and the log store met the bar (at most ``--bar`` seconds each, 10 by default).
Exit 0 when both met it and every lookup found every id, 1 otherwise. Needs a running local
stack (``chaosgate stack up``); honours CHAOSGATE_PORT_* like the CLI.

    .venv/bin/python bench/trace_lookup.py --ids 100000
    .venv/bin/python bench/trace_lookup.py --ledger reports/<run-id>/ledger --ids 100000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from collections.abc import Callable, Sized
from pathlib import Path

import httpx
from traced_requests import send_traced_requests

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.jaeger import JaegerBackend
from assertions.backends.span_store import SpanStoreBackend, TimeRange
from assertions.checks.traces import ledger_window
from chaosgate.request_ledger import read_ledger
from chaosgate.target import local_target
from chaosgate.vocabulary import LedgerEntry
from refstack.launcher.ports import resolve_ports

WAIT_LIMIT_S = 900  # 100,000 traces take a few minutes to be written after the last request
SETTLE_S = 15.0


def send_requests(
    gateway: str, count: int, workers: int
) -> tuple[list[tuple[str, str]], TimeRange]:
    """``count`` traced requests; their ids and when they were sent (a minute's margin)."""
    started = time.time()
    ids = send_traced_requests(gateway, count, workers)
    return ids, TimeRange(started - 60.0, time.time() + 60.0)


def from_ledger(directory: Path, count: int) -> tuple[list[tuple[str, str]], TimeRange]:
    entries = [e for e in read_ledger(directory) if e.status != 0][:count]
    if not entries:
        raise SystemExit(f"{directory} holds no answered request")
    if len(entries) < count:
        print(f"  the ledger holds {len(entries)} answered requests (asked for {count})")
    return [(e.trace_id, e.request_id) for e in entries], ledger_window(entries)


def wait_until_searchable(
    spans: SpanStoreBackend,
    es: ElasticsearchBackend,
    pairs: list[tuple[str, str]],
    window: TimeRange,
) -> None:
    """Until a sample of the ids is searchable: the last 1,000 sent and 1,000 others (asking
    for all of them would warm the stores' caches for the timed lookups)."""
    chosen = pairs[-1000:] + random.Random(0).sample(pairs[:-1000], min(1000, len(pairs[:-1000])))
    trace_ids = [trace_id for trace_id, _ in chosen]
    request_ids = [request_id for _, request_id in chosen]
    deadline = time.monotonic() + WAIT_LIMIT_S
    while time.monotonic() < deadline:
        traces = len(spans.find_traces(trace_ids, window))
        logs = len(es.find_ids("request_id", request_ids))
        print(f"  searchable: {traces}/{len(chosen)} sampled traces, {logs}/{len(chosen)} log ids")
        if traces == len(chosen) and logs == len(chosen):
            time.sleep(SETTLE_S)  # the stores' last refresh, for the ids not sampled
            return
        time.sleep(10)
    raise SystemExit(f"not every sampled id became searchable within {WAIT_LIMIT_S} s")


def keep_ledger(directory: Path, pairs: list[tuple[str, str]], window: TimeRange) -> None:
    """The ids sent, as ledger entries spread over the time they were sent (in order)."""
    directory.mkdir(parents=True, exist_ok=True)
    first, last = window.start + 60.0, window.end - 60.0  # send_requests' margins
    step = (last - first) / max(1, len(pairs) - 1)
    lines = [
        LedgerEntry(
            trace_id=trace_id,
            span_id="0" * 15 + "1",
            request_id=request_id,
            scenario="Bench",
            method="GET",
            route="/api/menu",
            status=200,
            started_at=first + index * step,
            latency_s=0.0,
        ).to_json()
        for index, (trace_id, request_id) in enumerate(pairs)
    ]
    (directory / "ledger-bench-0.jsonl").write_text("\n".join(lines) + "\n")
    print(f"  kept the {len(pairs)} ids in {directory} (time them again with --ledger)")


def timed(label: str, call: Callable[[], Sized]) -> tuple[float, int]:
    started = time.perf_counter()
    found = call()
    seconds = time.perf_counter() - started
    print(f"  {label:<48} {seconds:8.2f} s  ({len(found)} found)", flush=True)
    return seconds, len(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--ids", type=int, default=100_000, help="how many ids to look up")
    parser.add_argument("--ledger", type=Path, help="take the ids from this run's ledger folder")
    parser.add_argument("--workers", type=int, default=16, help="concurrent senders")
    parser.add_argument("--bar", type=float, default=10.0, help="seconds each fast path may take")
    parser.add_argument("--skip-jaeger-api", action="store_true", help="leave the slow path out")
    parser.add_argument(
        "--keep-ledger",
        type=Path,
        help="write the ids sent as a ledger folder, so a later run can time them again with "
        "--ledger (sending 100,000 requests takes 15 minutes here)",
    )
    args = parser.parse_args()

    target = local_target(resolve_ports(os.environ))
    span_store = target.jaeger.span_store
    assert span_store is not None  # the built-in local target names the stack's OpenSearch
    with httpx.Client(timeout=120.0) as http:
        jaeger = JaegerBackend(http, target.jaeger.query_url)
        spans = SpanStoreBackend(http, span_store.url, span_store.index)
        es = ElasticsearchBackend(
            http, target.elasticsearch.url, target.elasticsearch.index_pattern
        )
        if args.ledger is not None:
            print(f"reading up to {args.ids} ids from {args.ledger} ...")
            pairs, window = from_ledger(args.ledger, args.ids)
        else:
            print(f"sending {args.ids} requests through {target.gateway_url} ...")
            pairs, window = send_requests(target.gateway_url, args.ids, args.workers)
        trace_ids = [trace_id for trace_id, _ in pairs]
        request_ids = [request_id for _, request_id in pairs]
        if args.ledger is None:
            wait_until_searchable(spans, es, pairs, window)
            if args.keep_ledger is not None:
                keep_ledger(args.keep_ledger, pairs, window)

        count = len(pairs)
        print(
            f"{count} trace ids, {count} request ids, time range {window.end - window.start:.0f} s:"
        )
        store_s, store_found = timed(
            f"span store ({spans.max_batch()} ids a search)",
            lambda: spans.find_traces(trace_ids, window),
        )
        es_s, es_found = timed(
            "log store, request ids (1,000 ids a search)",
            lambda: es.find_ids("request_id", request_ids),
        )
        api_s, api_found = (
            (None, None)
            if args.skip_jaeger_api
            else timed(
                f"Jaeger API, batched ({jaeger.max_batch()} ids a request)",
                lambda: jaeger.find_traces(trace_ids),
            )
        )

    print()
    print(f"span store:  {store_s:.2f} s for {count} trace ids ({store_found} found)")
    print(f"log store:   {es_s:.2f} s for {count} request ids ({es_found} found)")
    if api_s is not None:
        print(f"Jaeger API:  {api_s:.2f} s for {count} trace ids ({api_found} found)")
        print(f"ratio:       Jaeger API / span store = {api_s / store_s:.1f}x")
    met = store_s <= args.bar and es_s <= args.bar
    complete = store_found == es_found == count and api_found in (None, count)
    print(
        f"bar: span store and log store <= {args.bar:g} s each: {'met' if met else 'NOT met'}"
        f"; every id found: {'yes' if complete else 'NO'}"
    )
    return 0 if met and complete else 1


if __name__ == "__main__":
    sys.exit(main())
