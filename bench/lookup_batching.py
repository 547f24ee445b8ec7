"""Benchmark: batched id lookups against one request per id, in Jaeger and in OpenSearch.

Sends N requests through the gateway (each with its own traceparent and X-Request-ID), waits
until every one is searchable, then times, in the same run and on the same ids:

- Jaeger: ``find_traces`` in batches (the checks' default) vs batch size 1 (one GET per id);
- OpenSearch: ``find_ids`` with ``terms`` batches of 1,000 vs batch size 1.

Prints both times and their ratio (per-id time / batched time). Needs a running local stack
(``chaosgate stack up``); honours CHAOSGATE_PORT_* like the CLI.

    .venv/bin/python bench/lookup_batching.py --ids 10000
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import httpx
from traced_requests import send_traced_requests

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.jaeger import JaegerBackend
from chaosgate.target import local_target
from refstack.launcher.ports import resolve_ports


def wait_until_searchable(
    jaeger: JaegerBackend, es: ElasticsearchBackend, trace_ids: list[str], request_ids: list[str]
) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        traces = len(jaeger.find_traces(trace_ids))
        logs = len(es.find_ids("request_id", request_ids))
        print(f"  searchable: {traces}/{len(trace_ids)} traces, {logs}/{len(request_ids)} log ids")
        if traces == len(trace_ids) and logs == len(request_ids):
            return
        time.sleep(5)
    raise SystemExit("not every id became searchable within 300 s")


def timed(label: str, call: object) -> float:
    assert callable(call)
    started = time.perf_counter()
    found = call()
    seconds = time.perf_counter() - started
    print(f"  {label:<42} {seconds:8.2f} s  ({len(found)} found)")
    return seconds


def ratio_line(name: str, per_id_s: float, batched_s: float) -> str:
    return (
        f"{name + ':':<12} per-id {per_id_s:.2f} s / batched {batched_s:.2f} s"
        f" = {per_id_s / batched_s:.1f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ids", type=int, default=10_000, help="how many ids to look up")
    parser.add_argument("--workers", type=int, default=16, help="concurrent senders")
    args = parser.parse_args()

    target = local_target(resolve_ports(os.environ))
    with httpx.Client(timeout=120.0) as http:
        jaeger = JaegerBackend(http, target.jaeger.query_url)
        es = ElasticsearchBackend(
            http, target.elasticsearch.url, target.elasticsearch.index_pattern
        )
        print(f"sending {args.ids} requests through {target.gateway_url} ...")
        started = time.perf_counter()
        pairs = send_traced_requests(target.gateway_url, args.ids, args.workers)
        print(f"  sent in {time.perf_counter() - started:.1f} s")
        trace_ids = [trace_id for trace_id, _ in pairs]
        request_ids = [request_id for _, request_id in pairs]
        wait_until_searchable(jaeger, es, trace_ids, request_ids)

        print(f"Jaeger, {len(trace_ids)} trace ids:")
        jaeger_batched = timed(
            "batched (find_traces default batches)", lambda: jaeger.find_traces(trace_ids)
        )
        jaeger_single = timed(
            "one request per id (batch_size=1)", lambda: jaeger.find_traces(trace_ids, batch_size=1)
        )
        print(f"OpenSearch, {len(request_ids)} request ids:")
        es_batched = timed(
            "batched (terms, 1,000 ids a query)", lambda: es.find_ids("request_id", request_ids)
        )
        es_single = timed(
            "one request per id (batch_size=1)",
            lambda: es.find_ids("request_id", request_ids, batch_size=1),
        )

    print()
    print(ratio_line("Jaeger", jaeger_single, jaeger_batched))
    print(ratio_line("OpenSearch", es_single, es_batched))
    return 0


if __name__ == "__main__":
    sys.exit(main())
