"""``chaosgate verify --ledger DIR``: the trace and log checks over an existing request ledger.

A past run's ledger (``reports/<run-id>/ledger``) or one recorded elsewhere (the load's
``ledger-*.jsonl`` files) is judged against a target as a run judges its own:
``traces.completeness`` (in Jaeger's span store when the target names one, a sample's span
trees through Jaeger's API; else through Jaeger's API), ``logs.trace_id.completeness`` and
``logs.request_id.completeness``, and with ``--query-latency`` ``traces.query_latency``
(Jaeger's queries timed now, after the fact). When the ledger is a run's (its folder's parent
holds the run's ``summary.json``), the run's fault windows split the requests as the run split
them: a request that touched a fault is judged on its gateway span alone
(``traces.completeness.in_faults``); the others on their gateway and downstream spans. A
ledger without its run's summary is judged all outside faults. ``--since`` / ``--until`` keep
the requests that started in that range and bound the span-store search by it; without them
the range is the ledger's own.

Exit 0 when every check passed, 1 when one failed or errored, 2 for bad input (a missing
folder, an unreadable ledger, a bad time or target), each said in one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import requests
import typer

from assertions.backends.span_store import TimeRange
from assertions.checks.logs import IdKind, check_logs
from assertions.checks.query_latency import check_query_latency
from assertions.checks.traces import WINDOW_SLACK_S, check_traces, ledger_window
from assertions.result import CheckResult
from chaosgate.cli_common import PortOption, TargetOption, print_plain, resolve_target_spec
from chaosgate.cli_errors import print_error
from chaosgate.http_clients import new_http_client
from chaosgate.request_ledger import LEDGER_FILES, RequestLedgerError, read_ledger
from chaosgate.run.backends import RunBackends, build_backends, jaeger_queries_of, span_store_of
from chaosgate.target import Target, TargetError
from chaosgate.vocabulary import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, FaultWindow, LedgerEntry

__all__ = ["parse_moment", "run_fault_windows", "verify_command", "verify_entries"]

REQUEST_TIMEOUT_S = 30.0  # a batch of 5,000 ids is one search
FAULT_GRACE_S = 2.0  # as the run's: spans a killed process still had buffered
SUMMARY_FILE = "summary.json"


class VerifyInputError(Exception):
    """Bad input to ``verify``: one line saying what is wrong and how to fix it."""


def parse_moment(text: str, option: str) -> float:
    """Unix seconds from ``text``: a number, or an ISO 8601 time (UTC when it names no zone)."""
    try:
        value = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise VerifyInputError(
                f"{option} {text!r} is not a time; give unix seconds (1796321797.3) or an "
                "ISO 8601 time (2026-12-03T18:00:00Z)"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    if not math.isfinite(value):
        raise VerifyInputError(f"{option} {text!r} is not a finite number of seconds")
    return value


def read_ledger_dir(directory: Path) -> list[LedgerEntry]:
    """The ledger's entries; a missing folder, no ledger file or an unreadable one is bad
    input."""
    if not directory.is_dir():
        what = "does not exist" if not directory.exists() else "is not a folder"
        raise VerifyInputError(
            f"--ledger {str(directory)!r} {what}; give the folder holding the load's "
            f"{LEDGER_FILES} files (a run's reports/<run-id>/ledger)"
        )
    if not any(directory.glob(LEDGER_FILES)):
        raise VerifyInputError(
            f"--ledger {str(directory)!r} holds no {LEDGER_FILES} file; give the folder the "
            "load wrote its ledger into (a run's reports/<run-id>/ledger)"
        )
    try:
        return read_ledger(directory)
    except (RequestLedgerError, OSError, UnicodeDecodeError) as exc:
        raise VerifyInputError(f"--ledger {str(directory)!r}: {exc}") from None


def run_fault_windows(summary_path: Path) -> list[FaultWindow]:
    """The fault windows of the run whose ``summary.json`` this is: each experiment's from its
    inject to its rollback (or the load's end when its rollbacks never finished)."""
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise VerifyInputError(f"{str(summary_path)!r} cannot be read as JSON: {exc}") from None
    timeline = summary.get("timeline") if isinstance(summary, dict) else None
    load = summary.get("load") if isinstance(summary, dict) else None
    load_end = load.get("ended_at") if isinstance(load, dict) else None
    if not isinstance(timeline, list):
        raise VerifyInputError(f"{str(summary_path)!r} has no 'timeline' list: is it a run's?")
    windows: list[FaultWindow] = []
    for record in timeline:
        span = record.get("fault_window") if isinstance(record, dict) else None
        if not isinstance(span, dict) or not _is_number(span.get("inject_at")):
            continue
        end = span.get("rollback_at")
        end = end if _is_number(end) else load_end if _is_number(load_end) else None
        if end is None:
            raise VerifyInputError(
                f"{str(summary_path)!r}: the fault of {span.get('experiment')!r} has no end "
                "(no rollback and no load end)"
            )
        windows.append(FaultWindow(float(span["inject_at"]), float(end), str(span["experiment"])))
    return windows


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def select_entries(
    entries: Sequence[LedgerEntry], since: float | None, until: float | None
) -> tuple[list[LedgerEntry], TimeRange]:
    """The entries that started within ``since`` .. ``until`` (each end open when None), and
    the time range the span store is searched in: the given ends, widened by the slack, else
    the selected requests' own."""
    if since is not None and until is not None and until < since:
        raise VerifyInputError(f"--until ({until:g}) is before --since ({since:g}); swap them")
    chosen = [
        e
        for e in entries
        if (since is None or e.started_at >= since) and (until is None or e.started_at <= until)
    ]
    if not chosen:
        raise VerifyInputError(
            "no request of the ledger started within --since / --until; widen the range"
            if since is not None or until is not None
            else "the ledger holds no request"
        )
    own = ledger_window(chosen)
    return chosen, TimeRange(
        own.start if since is None else since - WINDOW_SLACK_S,
        own.end if until is None else until + WINDOW_SLACK_S,
    )


def verify_entries(
    entries: Sequence[LedgerEntry],
    target: Target,
    backends: RunBackends,
    window: TimeRange,
    *,
    deadline_s: float | None = None,
    query_latency: bool = False,
    fault_windows: Sequence[FaultWindow] = (),
) -> list[CheckResult]:
    """The trace and log checks of ``entries`` (and ``traces.query_latency``), each a
    :class:`CheckResult`; never raises for a backend failure. Requests that touched a window
    of ``fault_windows`` are judged on their gateway span alone, as a run judges them."""
    es = target.elasticsearch
    traces_s = target.deadlines.traces_s if deadline_s is None else deadline_s
    logs_s = target.deadlines.logs_s if deadline_s is None else deadline_s
    touched = [
        any(w.touches(e.started_at, e.ended_at, grace_s=FAULT_GRACE_S) for w in fault_windows)
        for e in entries
    ]
    inside = [e for e, hit in zip(entries, touched, strict=True) if hit]
    outside = [e for e, hit in zip(entries, touched, strict=True) if not hit]
    traces: dict[str, Any] = {
        "backend": backends.jaeger,
        "span_store": span_store_of(backends),
        "window": window,
        "deadline_s": traces_s,
    }
    checks = [check_traces(outside, **traces)] if outside or not inside else []
    if inside:
        in_faults = check_traces(inside, downstream_by_prefix={}, **traces)
        checks.append(replace(in_faults, name="traces.completeness.in_faults"))
    id_fields: tuple[tuple[IdKind, str], ...] = (
        ("trace_id", es.trace_id_field),
        ("request_id", es.request_id_field),
    )
    for id_kind, field in id_fields:
        checks.append(
            check_logs(
                entries,
                backend=backends.elasticsearch,
                deadline_s=logs_s,
                field=field,
                id_kind=id_kind,
                timestamp_field=es.timestamp_field,
            )
        )
    queries = jaeger_queries_of(backends)
    if query_latency and queries is not None:
        checks.append(
            check_query_latency(
                entries,
                queries=queries,
                bound_s=target.jaeger.query_latency_bound_s,
                window=(window.start, window.end),
            )
        )
    return checks


def _line(check: CheckResult) -> str:
    observed = check.observed if isinstance(check.observed, dict) else {}
    figures = (
        f"{observed.get('found')}/{observed.get('looked_for')} found"
        if "looked_for" in observed
        else f"p95 {check.latency_s:g} s"
        if check.latency_s is not None
        else ""
    )
    path = check.evidence.get("answered_by")
    extra = "; ".join(part for part in (figures, f"answered by {path}" if path else "") if part)
    reason = f": {check.reason}" if check.reason else ""
    return f"{check.status.value:<7} {check.name} ({extra}){reason}"


def verify_command(
    ledger: Annotated[
        Path,
        typer.Option(
            "--ledger",
            help="The folder of the load's ledger-*.jsonl files (a run's reports/<run-id>/ledger).",
            show_default=False,
        ),
    ],
    target: TargetOption = None,
    port: PortOption = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only requests that started at or after this time (unix s or ISO 8601)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            help="Only requests that started at or before this time (unix s or ISO 8601)."
        ),
    ] = None,
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline",
            help="Seconds each check polls for what is missing (default: the target's "
            "deadlines; 0 for one look, as for a run long past).",
            min=0.0,
        ),
    ] = None,
    query_latency: Annotated[
        bool,
        typer.Option(
            "--query-latency", help="Also time Jaeger's queries now (traces.query_latency)."
        ),
    ] = False,
    json_out: Annotated[
        Path | None,
        typer.Option("--json", help="Write the checks' results to this file as JSON."),
    ] = None,
) -> None:
    """Run the trace and log checks over an existing ledger; exit 0 when all pass, 1 when one
    fails or errors, 2 for bad input."""
    try:
        window_since = None if since is None else parse_moment(since, "--since")
        window_until = None if until is None else parse_moment(until, "--until")
        entries, window = select_entries(read_ledger_dir(ledger), window_since, window_until)
        summary = ledger.parent / SUMMARY_FILE
        windows = run_fault_windows(summary) if summary.is_file() else []
        resolved = resolve_target_spec(target, port).target
    except (VerifyInputError, TargetError) as exc:
        print_error(str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    with (
        new_http_client(timeout) as http,
        new_http_client(timeout, verify_tls=resolved.elasticsearch.verify_tls) as es_http,
        requests.Session() as session,
    ):
        try:
            backends = build_backends(resolved, http, es_http, session)
        except TargetError as exc:
            print_error(str(exc))
            raise typer.Exit(EXIT_BAD_INPUT) from None
        faults = f"; {len(windows)} fault windows from {summary}" if summary.is_file() else ""
        print_plain(
            f"verifying {len(entries)} requests of {ledger} against {resolved.name!r} "
            f"(spans from {window.start:.3f} to {window.end:.3f}{faults})"
        )
        checks = verify_entries(
            entries,
            resolved,
            backends,
            window,
            deadline_s=deadline,
            query_latency=query_latency,
            fault_windows=windows,
        )
    for check in checks:
        print_plain(_line(check))
    if json_out is not None:
        try:
            json_out.write_text(json.dumps([c.to_dict() for c in checks], indent=1) + "\n")
        except OSError as exc:
            print_error(f"--json {str(json_out)!r} cannot be written: {exc.strerror or exc}")
            raise typer.Exit(EXIT_FAILED) from None
    raise typer.Exit(EXIT_OK if all(c.passed for c in checks) else EXIT_FAILED)
