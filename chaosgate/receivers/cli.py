"""``chaosgate sink`` and ``chaosgate sink smtp``: the receivers' command line (mounted by
:mod:`chaosgate.cli`; its expected errors and exit codes apply)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaosgate.stack.ports import DEFAULT_PORTS, HOST

__all__ = ["sink_app"]

sink_app = typer.Typer()

SINK_HELP = (
    "Run the notification sink: records every notification Alertmanager delivers, with its "
    "arrival time, receiver (webhook, slack, email) and title.\n\n"
    "HTTP: POST /alerts (webhook), POST /slack or /slack/PATH (a Slack-compatible incoming "
    "webhook), POST /email (mails from `chaosgate sink smtp`), "
    "GET /notifications?receiver=&alertname=&status=, GET /healthz.\n\n"
    "`chaosgate sink smtp` runs the SMTP receiver Alertmanager's email_configs deliver to."
)
SINK_SMTP_HELP = (
    "Run the sink's SMTP receiver: each mail Alertmanager sends (no TLS, no auth) is parsed "
    "and recorded by the HTTP sink (receiver email).\n\n"
    "While the HTTP sink cannot take a mail, it is refused with a temporary 451 so "
    "Alertmanager retries."
)


@sink_app.callback(invoke_without_command=True, help=SINK_HELP)
def sink_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = HOST,
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_PORTS["sink"],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="JSON-lines file recording every notification.")
    ] = None,
) -> None:
    """The HTTP sink (:mod:`chaosgate.receivers.http`) unless a subcommand is given."""
    if ctx.invoked_subcommand is not None:
        return
    from chaosgate.receivers.http import serve_sink

    serve_sink(host, port, out_file)


@sink_app.command("smtp", help=SINK_SMTP_HELP)
def sink_smtp_command(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = HOST,
    port: Annotated[int, typer.Option(help="SMTP port to listen on.")] = DEFAULT_PORTS["smtp"],
    sink_url: Annotated[
        str,
        typer.Option(help="The HTTP sink (`chaosgate sink`) that records each mail (POST /email)."),
    ] = f"http://{HOST}:{DEFAULT_PORTS['sink']}",
) -> None:
    """The SMTP receiver (:mod:`chaosgate.receivers.smtp`)."""
    from chaosgate.receivers.smtp import serve_smtp

    serve_smtp(host, port, sink_url)
