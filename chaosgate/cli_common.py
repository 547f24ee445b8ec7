"""What every ``chaosgate`` sub-command shares: the consoles, the target and port options, and
how a target is resolved (the built-in ones follow the stack's port overrides). The exit codes
are in :mod:`chaosgate.vocabulary`."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import httpx
import typer
from rich.console import Console

from chaosgate.http_clients import new_http_client
from chaosgate.target import ResolvedTarget, Target, resolve_target
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import DEFAULT_PORTS, resolve_ports

__all__ = [
    "PortOption",
    "TargetOption",
    "err",
    "http_client",
    "load_target",
    "out",
    "print_plain",
    "report_progress",
    "resolve_target_spec",
    "stack_layout",
]

# wide enough for the status table when output goes to a file or a CI log
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)

TargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        help="'local' (the default), 'local-k8s' (the stack of `stack up --k8s`) or the path "
        "of a target YAML file.",
    ),
]
PortOption = Annotated[
    list[str] | None,
    typer.Option(
        "--port",
        help="Move one port: NAME=PORT (repeatable); also CHAOSGATE_PORT_<NAME>. "
        f"Names: {', '.join(DEFAULT_PORTS)}.",
    ),
]


def stack_layout() -> StackLayout:
    return StackLayout.from_env(os.environ)


def http_client() -> httpx.Client:
    return new_http_client(httpx.Timeout(3.0))


def load_target(spec: str | None, port_overrides: list[str] | None) -> Target:
    """The target; the built-in ones follow the stack's port overrides."""
    return resolve_target_spec(spec, port_overrides).target


def resolve_target_spec(spec: str | None, port_overrides: list[str] | None) -> ResolvedTarget:
    """The target and where each of its values came from."""
    ports = resolve_ports(os.environ, port_overrides or [])
    return resolve_target(spec, env=os.environ, local_ports=ports)


def print_plain(text: str) -> None:
    """Print ``text`` on stdout as it is: user values such as ``[x]`` or ``:x:`` are no markup."""
    out.print(text, markup=False, emoji=False, highlight=False, soft_wrap=True)


def report_progress(message: str) -> None:
    """A dim progress line on stderr (what a long command is doing)."""
    err.print(f"[dim]{message}[/dim]", highlight=False)
