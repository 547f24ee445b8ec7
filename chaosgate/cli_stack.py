"""``chaosgate stack up|down|status|build``: the local reference stack."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated

import httpx
import typer
from rich.table import Table

from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.errors import BackendError
from chaosgate.cli_common import (
    PortOption,
    http_client,
    load_target,
    out,
    report_progress,
    stack_layout,
)
from chaosgate.faults.command import pending_lines
from chaosgate.target import TargetError
from chaosgate.vocabulary import EXIT_FAILED
from refstack.launcher.builds import ensure_builds
from refstack.launcher.health import PartStatus
from refstack.launcher.k8s_builds import ensure_k8s_builds
from refstack.launcher.k8s_parts import DEFAULT_POD_START_DELAY_S
from refstack.launcher.launcher import stack_down, stack_status, stack_up
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import DEFAULT_RESTART_DELAY_S, part_urls
from refstack.launcher.ports import resolve_ports
from refstack.launcher.prerequisites import check_stack_prerequisites
from refstack.launcher.record import read_record
from refstack.launcher.stores import DEFAULT_STORE, STORES, store_named

__all__ = ["stack_app"]

stack_app = typer.Typer(
    help="The local reference stack (real Jaeger, OpenSearch, Prometheus, ...)."
)


def _status_table(statuses: list[PartStatus]) -> Table:
    table = Table(title="chaosgate local stack")
    for column in ("part", "url", "state", "pid", "memory", "detail"):
        table.add_column(column, justify="right" if column == "memory" else "left")
    colours = {"up": "green", "starting": "yellow", "down": "red"}
    for status in statuses:
        table.add_row(
            status.name,
            status.url or "-",
            f"[{colours[status.state]}]{status.state}[/]",
            str(status.pid or "-"),
            _megabytes(status.rss_bytes),
            status.detail,
        )
    known = [s.rss_bytes for s in statuses if s.rss_bytes is not None]
    table.caption = f"memory of all parts: {_megabytes(sum(known))}" if known else None
    return table


def _megabytes(size: int | None) -> str:
    return "-" if size is None else f"{size / 2**20:.0f} MB"


def _store_of(layout: StackLayout, http: httpx.Client) -> dict[str, str | None] | None:
    """Which store the running stack keeps its logs and spans in, and what its node says it
    is at its root endpoint (distribution and version; None where it does not answer)."""
    record = read_record(layout)
    if record is None:
        return None
    url = part_urls(record.ports)["store"]
    facts: dict[str, str | None] = {"name": record.store, "url": url}
    try:
        info = ElasticsearchBackend(http, url, "*").version()
    except BackendError as exc:
        return {**facts, "distribution": None, "version": None, "error": exc.reason}
    return {
        **facts,
        "distribution": str(info.details.get("distribution", "")) or None,
        "version": info.version,
        "error": None,
    }


def _describe_store(store: Mapping[str, str | None]) -> str:
    if store["version"] is None:
        return f"store: {store['name']} at {store['url']} does not answer: {store['error']}"
    return (
        f"store: {store['name']} at {store['url']} "
        f"(the node says {store['distribution']} {store['version']})"
    )


def _store_line(layout: StackLayout, http: httpx.Client) -> str:
    store = _store_of(layout, http)
    return "store: none running" if store is None else _describe_store(store)


@stack_app.command("up")
def stack_up_command(
    port: PortOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every part.")] = 300.0,
    restart_delay: Annotated[
        int,
        typer.Option(help="Seconds a killed service stays down before it comes back."),
    ] = DEFAULT_RESTART_DELAY_S,
    pod_start_delay: Annotated[
        int,
        typer.Option(
            help="With --k8s: seconds a restaurant pod's container waits before it starts "
            "(the emulated sandbox and image start of a real node)."
        ),
    ] = DEFAULT_POD_START_DELAY_S,
    k8s: Annotated[
        bool,
        typer.Option(
            "--k8s",
            help="Add a local Kubernetes control plane and node; the restaurant services run "
            "as Deployments of manifests/overlays/local (first build: minutes).",
        ),
    ] = False,
    logs: Annotated[
        str,
        typer.Option(
            "--logs",
            metavar="STORE",
            help=f"The store of the logs and spans: {' or '.join(STORES)}.",
        ),
    ] = DEFAULT_STORE.name,
) -> None:
    """Build what is missing, start every part under supervisord, wait until all are healthy."""
    try:
        store = store_named(logs)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--logs") from None
    ports = resolve_ports(os.environ, port or [])
    layout = stack_layout()
    check_stack_prerequisites(layout)
    with http_client() as http:
        statuses = stack_up(
            layout,
            ports,
            http,
            report=report_progress,
            timeout_s=timeout,
            restart_delay_s=restart_delay,
            k8s=k8s,
            pod_start_delay_s=pod_start_delay,
            store=store,
        )
        store_line = _store_line(layout, http)
    out.print(_status_table(statuses))
    out.print(store_line, markup=False, highlight=False)


@stack_app.command("suite")
def stack_suite_command(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the Locust workers.")] = 180.0,
) -> None:
    """Deploy chaosgate itself into the running `stack up --k8s` (manifests/overlays/local-suite):
    its gate Job starts at once, a gate run inside the cluster, as ServiceAccount
    chaosgate-runner, with the locust-worker pods as its load. Each call is a new gate run."""
    from refstack.launcher.k8s_suite import GATE_JOB, SUITE_NAMESPACE, stack_suite

    layout = stack_layout()
    report_progress("deploying manifests/overlays/local-suite (namespace chaosgate)")
    summary = stack_suite(layout, timeout_s=timeout)
    for line in summary.strip().splitlines():
        report_progress(f"  {line}")
    kubeconfig = layout.state_dir / "k8s" / "admin.kubeconfig"
    kubectl = f"kubectl --kubeconfig {kubeconfig} -n {SUITE_NAMESPACE}"
    out.print(f"the gate runs in the cluster; its verdict: {kubectl} get job {GATE_JOB}")
    out.print(f"its output: {kubectl} logs -f job/{GATE_JOB}")


@stack_app.command("down")
def stack_down_command() -> None:
    """Stop everything `stack up` started (and nothing else)."""
    if stack_down(stack_layout(), report=report_progress):
        out.print("stack stopped")
    else:
        out.print("no stack was running")


@stack_app.command("status")
def stack_status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show every part's URL and state; exit 1 when a part is down or no stack runs."""
    layout = stack_layout()
    with http_client() as http:
        statuses = stack_status(layout, http)
        store = _store_of(layout, http) if statuses is not None else None
    if statuses is None:
        if as_json:
            out.print_json(json.dumps({"running": False, "parts": []}))
        else:
            out.print(f"no stack is running (state dir {layout.state_dir})")
        raise typer.Exit(EXIT_FAILED)
    faults = _stack_faults()
    if as_json:
        parts = [
            {
                "name": s.name,
                "url": s.url,
                "state": s.state,
                "pid": s.pid,
                "rss_bytes": s.rss_bytes,
                "detail": s.detail,
            }
            for s in statuses
        ]
        answer = {"running": True, "store": store, "parts": parts, "faults_not_undone": faults}
        out.print_json(json.dumps(answer))
    else:
        out.print(_status_table(statuses))
        if store is not None:
            out.print(_describe_store(store), markup=False, highlight=False)
        for line in faults:
            out.print(f"fault not undone: {line}", markup=False, highlight=False)
        if faults:
            out.print("undo them with `chaosgate cleanup` (add --target local-k8s for [local-k8s])")
    if not all(status.healthy for status in statuses) or faults:
        raise typer.Exit(EXIT_FAILED)


def _stack_faults() -> list[str]:
    """Faults recorded and not undone on the stack's built-in targets."""
    lines = []
    for name in ("local", "local-k8s"):
        try:
            target = load_target(name, None)
        except TargetError:
            continue
        lines += [f"[{name}] {line}" for line in pending_lines(target)]
    return lines


@stack_app.command("build")
def stack_build_command(
    k8s: Annotated[
        bool, typer.Option("--k8s", help="Also build etcd and the Kubernetes control plane.")
    ] = False,
) -> None:
    """Build (or find in the cache) Jaeger and both stores' nodes, OpenSearch and Elasticsearch
    (and with --k8s, etcd, the Kubernetes control plane and Prometheus with Kubernetes
    discovery)."""
    layout = stack_layout()
    check_stack_prerequisites(layout)
    stores = tuple(STORES.values())
    results = list(ensure_builds(layout, stores=stores, report=report_progress).results)
    if k8s:
        results += ensure_k8s_builds(layout, report=report_progress).results
    for result in results:
        state = f"built in {result.seconds:.0f} s" if result.built else "cached"
        out.print(f"{result.part}: {state}: {result.output}")
