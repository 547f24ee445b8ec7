"""Benchmark: a ledger of a million requests read, judged and drawn, against 10,000 in the same run.

Writes two synthetic ledgers into a temporary folder (four files each, as four Locust
processes would: realistic ids, scenarios, routes, statuses, latencies, a 20-minute run with
two fault windows), then, for each, in a child process of its own (so its peak memory is its
own), times the stages a run goes through after the load:

- ``read``: :func:`chaosgate.request_ledger.read_ledger` (every entry, ordered);
- ``slo``: :func:`assertions.checks.slo.ledger_slo` split by the fault windows;
- ``expect``: the trace and log checks' expectations (one per trace id / request id), which a
  sample is drawn from (:func:`assertions.checks.traces.trace_expectations`,
  :func:`assertions.checks.logs.log_expectations`);
- ``timeline``: report.html's rate and latency series (:mod:`chaosgate.report.timeline_data`).

Prints each stage's seconds, the peak resident memory of the child, and the ratios of the big
ledger to the small one: per-entry time (1.0 = scales linearly) and memory per entry. The bound
it checks (``--bound-s``, ``--bound-mb``): the whole of it for a million entries within 60 s and
1,500 MB on this 2-core machine — a nightly of a million requests must be judged in about a
minute, and fit beside the local stack (about 1 GB) on a 4 GB CI runner.

    .venv/bin/python bench/million_ledger.py            # 1,000,000 against 10,000
    .venv/bin/python bench/million_ledger.py --entries 200000
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chaosgate.vocabulary import FaultWindow, LedgerEntry

SCENARIOS = {
    "Customer": [("GET", "/api/menu"), ("POST", "/api/orders"), ("GET", "/api/orders/{id}")],
    "Kitchen": [("GET", "/api/orders"), ("PATCH", "/api/orders/{id}")],
    "Device": [("POST", "/api/devices/{id}/telemetry")],
}
RUN_START = 1_800_000_000.0
RUN_S = 1200.0
WINDOWS = [
    FaultWindow(RUN_START + 300, RUN_START + 420, "a"),
    FaultWindow(RUN_START + 700, RUN_START + 760, "b"),
]
FILES = 4
STAGES = ("read", "slo", "expect", "timeline")


def write_ledger(directory: Path, count: int, seed: int = 7) -> None:
    """``count`` entries over ``FILES`` files, each file in start order as a process writes it."""
    rng = random.Random(seed)
    directory.mkdir(parents=True)
    names = list(SCENARIOS)
    for index in range(FILES):
        share = count // FILES + (1 if index < count % FILES else 0)
        starts = sorted(RUN_START + rng.random() * RUN_S for _ in range(share))
        with (directory / f"ledger-bench-{index}.jsonl").open("w") as out:
            lines = []
            for started in starts:
                scenario = rng.choice(names)
                method, route = rng.choice(SCENARIOS[scenario])
                status = 200 if rng.random() > 0.02 else rng.choice((0, 500, 503))
                entry = LedgerEntry(
                    trace_id=f"{rng.getrandbits(128):032x}",
                    span_id=f"{rng.getrandbits(64):016x}",
                    request_id=f"req-{rng.getrandbits(64):016x}",
                    scenario=scenario,
                    method=method,
                    route=route,
                    status=status,
                    started_at=started,
                    latency_s=rng.expovariate(20.0),
                    error="ConnectionError" if status == 0 else "",
                    user=f"{scenario}/{index}/{rng.randrange(50)}",
                )
                lines.append(entry.to_json())
            out.write("\n".join(lines) + "\n")


def measure(directory: Path) -> dict[str, float]:
    """The stages on ``directory``'s ledger, in this process: seconds each, and peak MB."""
    from assertions.checks.logs import log_expectations
    from assertions.checks.slo import ledger_slo
    from assertions.checks.traces import trace_expectations
    from chaosgate.report.timeline_data import latency_series, rate_series
    from chaosgate.request_ledger import read_ledger

    times: dict[str, float] = {}
    clock = time.perf_counter()
    entries = read_ledger(directory)
    times["read"] = time.perf_counter() - clock
    clock = time.perf_counter()
    ledger_slo(entries, WINDOWS)
    times["slo"] = time.perf_counter() - clock
    clock = time.perf_counter()
    trace_expectations(entries)
    log_expectations(entries, "request_id")
    times["expect"] = time.perf_counter() - clock
    clock = time.perf_counter()
    rate_series(entries, RUN_START)
    latency_series(entries, RUN_START)
    times["timeline"] = time.perf_counter() - clock
    times["entries"] = float(len(entries))
    times["peak_mb"] = peak_mb()
    return times


def peak_mb() -> float:
    """This process's peak resident memory since its exec (``VmHWM``; ``ru_maxrss`` would also
    count the parent's pages the child had before its exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (this benchmark needs Linux)")


def in_child(directory: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", str(directory)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def baseline_mb() -> float:
    """Peak memory of a child that imports the same modules and reads an empty ledger."""
    with tempfile.TemporaryDirectory() as empty:
        return in_child(Path(empty))["peak_mb"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=10_000)
    parser.add_argument("--bound-s", type=float, default=60.0)
    parser.add_argument("--bound-mb", type=float, default=1500.0)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
        return 0
    with tempfile.TemporaryDirectory(prefix="chaosgate-bench-") as work:
        runs = {}
        for label, count in (("small", args.baseline), ("big", args.entries)):
            clock = time.perf_counter()
            write_ledger(Path(work) / label, count)
            print(f"wrote {count:,} entries in {time.perf_counter() - clock:.1f} s", flush=True)
            runs[label] = in_child(Path(work) / label)
        empty_mb = baseline_mb()
    small, big = runs["small"], runs["big"]
    scale = big["entries"] / small["entries"]
    print(f"{'stage':<10}{'small s':>10}{'big s':>10}{'per-entry ratio':>17}")
    for stage in STAGES:
        ratio = (big[stage] / scale) / small[stage] if small[stage] else float("nan")
        print(f"{stage:<10}{small[stage]:>10.3f}{big[stage]:>10.3f}{ratio:>17.2f}")
    total_small = sum(small[s] for s in STAGES)
    total_big = sum(big[s] for s in STAGES)
    ratio = total_big / scale / total_small
    print(f"{'total':<10}{total_small:>10.3f}{total_big:>10.3f}{ratio:>17.2f}")
    per_entry_b = (big["peak_mb"] - empty_mb) * 1024 * 1024 / big["entries"]
    print(
        f"peak memory: {big['peak_mb']:.0f} MB for {big['entries']:,.0f} entries, "
        f"{small['peak_mb']:.0f} MB for {small['entries']:,.0f}, {empty_mb:.0f} MB for none "
        f"({per_entry_b:.0f} bytes an entry)"
    )
    within = total_big <= args.bound_s and big["peak_mb"] <= args.bound_mb
    print(
        f"bound: {args.bound_s:.0f} s and {args.bound_mb:.0f} MB -> "
        f"{'within' if within else 'OVER'} ({total_big:.1f} s, {big['peak_mb']:.0f} MB)"
    )
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
