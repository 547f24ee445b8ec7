"""``chaosgate list profiles|experiments``: what an installed chaosgate can run.

The built-in profiles and experiment files ship inside the package, so a team that installed
the wheel sees here what ``--profile`` and ``--experiment`` accept for its target's kind of
chaos (``local`` process faults, or ``kubernetes``), with each experiment's expected alerts and
their deadlines as its file states them.
"""

from __future__ import annotations

from typing import Annotated, cast

import typer
from rich.table import Table

from chaosgate.chaos.experiments import chaosgate_extension, load_experiment
from chaosgate.cli_common import PortOption, TargetOption, out, resolve_target_spec
from chaosgate.run.profiles import EXPERIMENT_DIRS, profiles_for
from chaosgate.target_values import ChaosKind

__all__ = ["list_app"]

list_app = typer.Typer(help="The built-in profiles and experiments for a target.")

ChaosOption = Annotated[
    str | None,
    typer.Option(
        "--chaos",
        help="local or kubernetes: list for this kind of chaos instead of the target's.",
    ),
]


def _chaos_kind(chaos: str | None, target: str | None, port: list[str] | None) -> ChaosKind:
    if chaos is None:
        return resolve_target_spec(target, port).target.chaos
    if chaos not in EXPERIMENT_DIRS:
        raise typer.BadParameter(
            f"{chaos!r} is not a kind of chaos; use one of {', '.join(EXPERIMENT_DIRS)}",
            param_hint="--chaos",
        )
    return cast(ChaosKind, chaos)


@list_app.command("profiles")
def list_profiles_command(
    target: TargetOption = None, port: PortOption = None, chaos: ChaosOption = None
) -> None:
    """Each profile: load, users, experiments and the alert rules it must prove."""
    kind = _chaos_kind(chaos, target, port)
    table = Table(title=f"profiles ({kind} chaos)")
    for column in ("profile", "load", "users", "experiments", "alert rules to prove"):
        table.add_column(column)
    for name, profile in profiles_for(kind).items():
        rules = profile.alert_coverage
        table.add_row(
            name,
            f"{profile.duration_s} s",
            str(profile.users),
            str(len(profile.experiments)),
            rules if isinstance(rules, str) else (", ".join(rules) or "-"),
        )
    out.print(table)


@list_app.command("experiments")
def list_experiments_command(
    target: TargetOption = None, port: PortOption = None, chaos: ChaosOption = None
) -> None:
    """Each built-in experiment file: its title and the alerts its fault must raise."""
    kind = _chaos_kind(chaos, target, port)
    directory = EXPERIMENT_DIRS[kind]
    table = Table(title=f"experiments ({kind} chaos, {directory})")
    for column in ("experiment", "title", "expected alerts (deadline)"):
        table.add_column(column)
    for path in sorted(directory.glob("*.json")):
        experiment = load_experiment(path)
        alerts = chaosgate_extension(experiment, source=str(path)).expected_alerts
        table.add_row(
            path.stem,
            str(experiment.get("title", "")),
            ", ".join(f"{alert.alertname} ({alert.deadline_s:g} s)" for alert in alerts),
        )
    out.print(table)
