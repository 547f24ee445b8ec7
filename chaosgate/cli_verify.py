"""``chaosgate verify --ledger DIR``: the trace and log checks over an existing request ledger.

A past run's ledger (``reports/<run-id>/ledger``) or one recorded elsewhere (the load's
``ledger-*.jsonl`` files) is judged against a target as a run judges its own:
``traces.completeness`` (in Jaeger's span store when the target names one, a sample's span
trees through Jaeger's API; else through Jaeger's API), ``logs.trace_id.completeness`` and
``logs.request_id.completeness``, and with ``--query-latency`` ``traces.query_latency``
(Jaeger's queries timed now, after the fact). Every request is judged with the steady-state
expectations (its gateway and downstream spans): the ledger alone does not say which ones a
fault touched. ``--since`` / ``--until`` keep the requests that started in that range and
bound the span-store search by it; without them the range is the ledger's own.

Exit 0 when every check passed, 1 when one failed or errored, 2 for bad input (a missing
folder, an unreadable ledger, a bad time or target), each said in one line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

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
from chaosgate.vocabulary import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, LedgerEntry

__all__ = ["parse_moment", "verify_command", "verify_entries"]

REQUEST_TIMEOUT_S = 30.0  # a batch of 5,000 ids is one search


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
) -> list[CheckResult]:
    """The trace and log checks of ``entries`` (and ``traces.query_latency``), each a
    :class:`CheckResult`; never raises for a backend failure."""
    es = target.elasticsearch
    traces_s = target.deadlines.traces_s if deadline_s is None else deadline_s
    logs_s = target.deadlines.logs_s if deadline_s is None else deadline_s
    checks = [
        check_traces(
            entries,
            backend=backends.jaeger,
            span_store=span_store_of(backends),
            window=window,
            deadline_s=traces_s,
        )
    ]
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
        print_plain(
            f"verifying {len(entries)} requests of {ledger} against {resolved.name!r} "
            f"(requests from {window.start:.3f} to {window.end:.3f})"
        )
        checks = verify_entries(
            entries, resolved, backends, window, deadline_s=deadline, query_latency=query_latency
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
