"""The ``chaosgate`` command line.

Exit codes: 0 success · 1 a check failed / a part is down / the stack could not start ·
2 bad input (config, target, ports, usage) · 3 the target is not healthy enough to test.
Expected errors print one line, ``chaosgate: error: ...``, never a traceback.
The ``stack`` sub-commands live in :mod:`chaosgate.cli_stack`, the ``sink`` ones in
:mod:`chaosgate.receivers.cli`, ``report``, ``compare`` and ``trend`` in
:mod:`chaosgate.cli_report`, ``replay`` in :mod:`chaosgate.cli_replay`, and what they share
in :mod:`chaosgate.cli_common`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from chaosgate.chaos.experiments import ExperimentError
from chaosgate.cli_common import (
    PortOption,
    TargetOption,
    err,
    load_target,
    out,
    print_plain,
    resolve_target_spec,
)
from chaosgate.cli_errors import is_help_request, print_error, usage_message
from chaosgate.cli_list import list_app
from chaosgate.cli_replay import replay_command
from chaosgate.cli_report import compare_command, report_command, trend_command
from chaosgate.cli_stack import stack_app
from chaosgate.cli_verify import verify_command
from chaosgate.faults.command import refuse_pending_faults, run_cleanup
from chaosgate.plan_checks import validate_experiments, validate_scenarios
from chaosgate.receivers.cli import sink_app
from chaosgate.report.page_file import PageWriteError
from chaosgate.report.run_folder import RunFolderError
from chaosgate.report.trend import TrendError
from chaosgate.run.profiles import Profile, ProfileError, resolve_profile
from chaosgate.run.reports_dir import check_reports_dir
from chaosgate.target import Target, TargetError
from chaosgate.vocabulary import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK
from refstack.launcher.builds import BuildError
from refstack.launcher.ports import PortError
from refstack.launcher.prerequisites import StackPrerequisiteError
from refstack.launcher.record import StackError

__all__ = ["app", "main"]

app = typer.Typer(
    help="Prove a restaurant platform keeps its observability promises under load and faults.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
target_app = typer.Typer(help="Targets: the deployed stack chaosgate verifies.")
app.add_typer(stack_app, name="stack")
app.add_typer(target_app, name="target")
app.add_typer(sink_app, name="sink")
app.add_typer(list_app, name="list")
app.command("report")(report_command)
app.command("compare")(compare_command)
app.command("trend")(trend_command)
app.command("replay")(replay_command)
app.command("verify")(verify_command)

ProfileOption = Annotated[
    str,
    typer.Option(
        "--profile", "-p", help="smoke (~2 min), gate (~5 min; ~8 on Kubernetes) or nightly."
    ),
]
ExperimentOption = Annotated[
    list[str] | None,
    typer.Option("--experiment", "-e", help="Run this experiment (name or path; repeatable)."),
]
ScenarioOption = Annotated[
    list[str] | None,
    typer.Option("--scenario", "-s", help="Only these Locust user classes (repeatable)."),
]


@target_app.command("show")
def target_show_command(target: TargetOption = None, port: PortOption = None) -> None:
    """Print the resolved target (file + environment), credentials redacted."""
    resolved = load_target(target, port)
    out.print_json(json.dumps(resolved.redacted_dict()))


@app.command("cleanup")
def cleanup_command(
    target: TargetOption = None,
    port: PortOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be undone; undo nothing.")
    ] = False,
) -> None:
    """Undo every fault still recorded for the target (a cancelled or killed run's) and stop
    a load it left running; exit 0 when nothing is left, 1 naming what could not be undone."""
    resolved = load_target(target, port)
    outcome = run_cleanup(
        resolved,
        dry_run=dry_run,
        report=lambda line: out.print(line, markup=False, highlight=False),
    )
    if not outcome.clean:
        left = [r.entry.title for r in outcome.failed] + [e.title for e in outcome.live]
        left += [str(bad.path) for bad in outcome.unreadable]
        err.print(f"chaosgate: error: not undone: {'; '.join(left)}", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED)


@app.command("validate")
def validate_command(
    target: TargetOption = None,
    port: PortOption = None,
    profile: ProfileOption = "smoke",
    experiment: ExperimentOption = None,
    scenario: ScenarioOption = None,
) -> None:
    """Check target, profile, scenarios and experiments without acting (exit 2 if bad)."""
    resolved = resolve_target_spec(target, port)
    plan_profile = _resolve_profile(
        profile, experiment, scenario, None, None, None, resolved.target
    )
    paths = validate_experiments(plan_profile, resolved)
    validate_scenarios(plan_profile)
    print_plain(f"target {resolved.target.name!r}: ok ({resolved.target.chaos} chaos)")
    print_plain(f"profile {plan_profile.name!r}: ok ({', '.join(plan_profile.scenarios)})")
    for path in paths:
        print_plain(f"experiment {path.name}: ok")


@app.command("run")
def run_command(
    target: TargetOption = None,
    port: PortOption = None,
    profile: ProfileOption = "smoke",
    experiment: ExperimentOption = None,
    scenario: ScenarioOption = None,
    users: Annotated[int | None, typer.Option(help="Concurrent Locust users.")] = None,
    duration: Annotated[int | None, typer.Option(help="Seconds of load.")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for ids, choices and sampling.")] = None,
    reports_dir: Annotated[
        Path, typer.Option("--reports", help="Where reports/<run-id>/ goes.")
    ] = Path("reports"),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and print the plan; act on nothing.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            help="Run the load as a Locust master of N worker processes started here"
            " (instead of the profile's --processes).",
        ),
    ] = 0,
    expect_workers: Annotated[
        int,
        typer.Option(
            "--expect-workers",
            help="Wait for N Locust workers started elsewhere (`chaosgate worker --master"
            " HOST:PORT`); needs --master-bind.",
        ),
    ] = 0,
    master_bind: Annotated[
        str,
        typer.Option(
            "--master-bind",
            help="HOST:PORT the Locust master listens on for its workers (default with"
            " --workers alone: 127.0.0.1 on a free port).",
        ),
    ] = "",
    checks: Annotated[
        Path | None,
        typer.Option(
            "--checks",
            help="A folder of your own pytest checks (chaosgate's plugin fixtures), run after"
            " the built-in checks and counted in the verdict.",
        ),
    ] = None,
) -> None:
    """Load and chaos together, then traces / logs / alerts / SLO checks; the exit code decides."""
    from dataclasses import replace

    from chaosgate.run.load_workers import with_distribution
    from chaosgate.run.plan import build_plan, describe_plan, execute_plan
    from chaosgate.run.team_checks import collect_team_checks

    resolved = resolve_target_spec(target, port)
    plan_profile = with_distribution(
        _resolve_profile(profile, experiment, scenario, users, duration, seed, resolved.target),
        workers=workers,
        expect_workers=expect_workers,
        master_bind=master_bind,
    )
    if checks is not None:
        plan_profile = replace(plan_profile, checks=str(checks.resolve()))
    check_reports_dir(reports_dir)
    paths = validate_experiments(plan_profile, resolved)
    validate_scenarios(plan_profile)
    if plan_profile.checks:  # bad input before anything runs
        collect_team_checks(Path(plan_profile.checks))
    refuse_pending_faults(resolved.target)
    plan = build_plan(resolved.target, plan_profile, paths, reports_dir, command=sys.argv)
    print_plain(describe_plan(plan))
    if dry_run:
        return
    outcome = execute_plan(plan, out)
    raise typer.Exit(outcome.exit_code)


@app.command("worker")
def worker_command(
    master: Annotated[
        str, typer.Option("--master", help="HOST:PORT of the run's Locust master (--master-bind).")
    ],
    processes: Annotated[
        int, typer.Option("--processes", help="Worker processes on this machine (Locust forks).")
    ] = 1,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Stay for run after run (a standing worker, e.g. a Deployment's pod): start"
            " a new worker whenever one ends, until SIGTERM.",
        ),
    ] = False,
) -> None:
    """A Locust worker of a `chaosgate run --expect-workers` master: it runs the suite's users
    and sends their ledger entries to the master; it ends when the master does (with
    --serve, only on SIGTERM)."""
    from chaosgate.run.load import LOCUSTFILE
    from chaosgate.run.load_workers import (
        parse_master_address,
        run_worker,
        serve_worker,
        worker_command,
    )

    if processes < 1:
        raise ProfileError(f"--processes {processes}: give a number of processes >= 1")
    if serve:
        host, port = parse_master_address(master, "--master")
        raise typer.Exit(serve_worker(worker_command(LOCUSTFILE, host, port, processes=processes)))
    raise typer.Exit(run_worker(LOCUSTFILE, master, processes=processes))


def _resolve_profile(
    name: str,
    experiments: list[str] | None,
    scenarios: list[str] | None,
    users: int | None,
    duration: int | None,
    seed: int | None,
    target: Target,
) -> Profile:
    """The profile of the target's kind of chaos (experiments/local/ or experiments/k8s/)."""
    return resolve_profile(
        name,
        users=users,
        duration_s=duration,
        experiments=experiments or (),
        scenarios=scenarios or (),
        seed=seed,
        chaos=target.chaos,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point: map expected errors to one plain line (:func:`print_error`) and an exit
    code; the option parser's usage errors are bad input too."""
    try:
        # without standalone mode, typer returns the code of a `typer.Exit` instead of exiting
        code = app(args=argv, prog_name="chaosgate", standalone_mode=False)
    except (
        TargetError,
        PortError,
        ProfileError,
        ExperimentError,
        RunFolderError,
        TrendError,
        PageWriteError,
    ) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except (StackError, BuildError, StackPrerequisiteError) as exc:
        print_error(str(exc))
        return EXIT_FAILED
    except typer.Abort:
        err.print("chaosgate: aborted")
        return EXIT_FAILED
    except typer.TyperException as exc:  # the parser: unknown command or option, bad value
        if is_help_request(exc):  # a bare `chaosgate` or `chaosgate stack`: the help
            show = getattr(exc, "show", None)
            if callable(show):
                show()
            return EXIT_BAD_INPUT
        print_error(usage_message(exc, sys.argv[1:] if argv is None else argv))
        return EXIT_BAD_INPUT if exc.exit_code == EXIT_BAD_INPUT else EXIT_FAILED
    return code if isinstance(code, int) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
