"""``chaosgate sink`` and ``chaosgate sink smtp``: the receivers' command line (mounted by
:mod:`chaosgate.cli`; its expected errors and exit codes apply)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from chaosgate.receivers.credential import (
    SMTP_USERNAME,
    TOKEN_ENV,
    Credential,
    CredentialError,
    load_credential,
)
from chaosgate.vocabulary import EXIT_BAD_INPUT
from refstack.launcher.ports import DEFAULT_PORTS, HOST

__all__ = ["sink_app"]

sink_app = typer.Typer()

SINK_HELP = (
    "Run the notification sink: records every notification Alertmanager delivers, with its "
    "arrival time, receiver (webhook, slack, email) and title.\n\n"
    "HTTP: POST /alerts (webhook), POST /slack or /slack/PATH (a Slack-compatible incoming "
    "webhook), POST /email (mails from `chaosgate sink smtp`), "
    "GET /notifications?receiver=&alertname=&status=, GET /healthz.\n\n"
    "Every POST needs `Authorization: Bearer <token>` (Alertmanager's http_config "
    f"authorization): the token from --token-file, else ${TOKEN_ENV}. Without it: 401, with "
    "another token: 403; a body over 1 MiB: 413; one not shaped as Alertmanager sends: 400. "
    "Nothing refused is recorded.\n\n"
    "`chaosgate sink smtp` runs the SMTP receiver Alertmanager's email_configs deliver to."
)
SINK_SMTP_HELP = (
    "Run the sink's SMTP receiver: each mail Alertmanager sends is parsed and recorded by the "
    "HTTP sink (receiver email).\n\n"
    f"SMTP AUTH PLAIN (no TLS: loopback) as {SMTP_USERNAME!r} with the token from "
    f"--token-file, else ${TOKEN_ENV}, is required before MAIL (530 without, 535 when wrong); "
    "mails over 256 KiB get 552, mails without a Subject 554.\n\n"
    "While the HTTP sink cannot take a mail, it is refused with a temporary 451 so "
    "Alertmanager retries."
)
TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help=f"File holding the token Alertmanager authenticates with (else ${TOKEN_ENV}).",
    ),
]


def _credential(token_file: Path | None) -> Credential:
    """The receivers' token, or one ``chaosgate: error:`` line and exit 2."""
    try:
        return load_credential(token_file, os.environ)
    except CredentialError as exc:
        print(f"chaosgate: error: {exc}", file=sys.stderr, flush=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@sink_app.callback(invoke_without_command=True, help=SINK_HELP)
def sink_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORTS["sink"],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="JSON-lines file recording every notification.")
    ] = None,
    token_file: TokenFileOption = None,
    query_port: Annotated[
        int | None,
        typer.Option(
            help="Also serve the reads (GET /notifications, /healthz), and nothing else, on "
            "this port (a cluster admits the runner there and Alertmanager to --port)."
        ),
    ] = None,
) -> None:
    """The HTTP sink (:mod:`chaosgate.receivers.http`) unless a subcommand is given."""
    if ctx.invoked_subcommand is not None:
        return
    credential = _credential(token_file)
    from chaosgate.receivers.http import serve_sink

    serve_sink(host, port, out_file, credential, query_port=query_port)


@sink_app.command("smtp", help=SINK_SMTP_HELP)
def sink_smtp_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = HOST,
    port: Annotated[int, typer.Option(help="SMTP port to listen on.")] = DEFAULT_PORTS["smtp"],
    sink_url: Annotated[
        str,
        typer.Option(help="The HTTP sink (`chaosgate sink`) that records each mail (POST /email)."),
    ] = f"http://{HOST}:{DEFAULT_PORTS['sink']}",
    token_file: TokenFileOption = None,
) -> None:
    """The SMTP receiver (:mod:`chaosgate.receivers.smtp`)."""
    credential = _credential(token_file)
    from chaosgate.receivers.smtp import serve_smtp

    serve_smtp(host, port, sink_url, credential)
