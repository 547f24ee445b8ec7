"""``chaosgate replay RUN_DIR``: play a recorded run's load and faults again, then compare.

The plan comes from the run folder (:mod:`chaosgate.run.replay`); it is checked as
``chaosgate run`` checks its own (chaoslib's validation of each experiment, the target's
namespace allowlist, the scenarios Locust exports, no fault left pending on the target),
then run like any run (:func:`chaosgate.run.plan.execute_plan`) into a new run folder next
to the recorded one (or under ``--reports``). At the end the two runs are compared as
``chaosgate compare RECORDED NEW`` compares them: printed, and written into the new run's
folder. The exit code is the new run's verdict (0, 1, 3, 130/143); bad input is exit 2.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from chaosgate.cli_common import PortOption, out, print_plain, resolve_target_spec
from chaosgate.cli_errors import one_line
from chaosgate.run.run_plan import ReplayMode

__all__ = ["replay_command", "replay_mode"]

ReplayTargetOption = Annotated[
    str | None,
    typer.Option(
        "--target",
        "-t",
        help="Replay against this target: 'local', 'local-k8s' or a target YAML file "
        "(default: the recorded run's, when it was 'local' or 'local-k8s'; a target file must "
        "be given again).",
        show_default=False,
    ),
]


def replay_mode(faults_only: bool, load_only: bool) -> ReplayMode:
    """``--faults-only`` / ``--load-only`` as a mode; both at once is a usage error."""
    if faults_only and load_only:
        raise typer.BadParameter(
            "--faults-only and --load-only exclude each other; give one of them, or neither "
            "to replay the load and the faults",
            param_hint="'--faults-only' / '--load-only'",
        )
    return "faults-only" if faults_only else "load-only" if load_only else "full"


def replay_command(
    run_dir: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR",
            help="The recorded run's folder, reports/<run-id>/, holding its summary.json.",
            show_default=False,
        ),
    ],
    target: ReplayTargetOption = None,
    port: PortOption = None,
    web: Annotated[
        bool,
        typer.Option(
            "--web",
            help="Run Locust with its web UI on a printed local URL (stats, charts, stop or "
            "steer) while the faults play.",
        ),
    ] = False,
    faults_only: Annotated[
        bool, typer.Option("--faults-only", help="The recorded faults only, with no load.")
    ] = False,
    load_only: Annotated[
        bool, typer.Option("--load-only", help="The recorded load only, with no fault.")
    ] = False,
    reports_dir: Annotated[
        Path | None,
        typer.Option(
            "--reports",
            help="Where the new run's folder goes (default: the recorded run's reports folder).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check and print what would be replayed; act on nothing."),
    ] = False,
) -> None:
    """Play a recorded run again: the same load (seed, scenarios, weights, shape) and its
    experiments as they ran, at their recorded offsets, then the same checks, into a new run
    folder; ends with the two runs side by side. --target defaults to the recorded built-in
    target; a target file must be given again (its credentials were not recorded)."""
    from chaosgate.cli_report import compare_command
    from chaosgate.faults.command import refuse_pending_faults
    from chaosgate.plan_checks import validate_experiments, validate_scenarios
    from chaosgate.report.run_folder import RunFolderError
    from chaosgate.run.plan import describe_plan, execute_plan
    from chaosgate.run.replay import (
        describe_replay,
        plan_replay,
        read_recorded_run,
        resolve_replay_target,
        stage_experiments,
        verify_experiment_copies,
    )
    from chaosgate.run.reports_dir import check_reports_dir
    from chaosgate.run.team_checks import collect_team_checks

    mode = replay_mode(faults_only, load_only)
    recorded = read_recorded_run(run_dir)
    copies = verify_experiment_copies(recorded)
    resolved = resolve_replay_target(
        recorded.record, target, lambda spec: resolve_target_spec(spec, port)
    )
    plan = plan_replay(
        recorded, resolved, copies, mode=mode, web=web, reports_dir=reports_dir, command=sys.argv
    )
    check_reports_dir(plan.run_dir.parent)
    # until they are staged, the plan's experiments are the copies in the recorded folder:
    # checked as `run` checks its experiments, and described from there
    recorded_paths = tuple(copy.path for copy in copies) if plan.experiments else ()
    as_recorded = replace(
        plan,
        experiments=recorded_paths,
        profile=replace(plan.profile, experiments=tuple(str(path) for path in recorded_paths)),
    )
    validate_experiments(as_recorded.profile, resolved)
    validate_scenarios(plan.profile)
    if plan.profile.checks:  # the recorded run's own checks, from their folder: bad input first
        collect_team_checks(Path(plan.profile.checks))
    refuse_pending_faults(plan.target)
    print_plain(describe_plan(as_recorded))
    print_plain(describe_replay(plan))
    if dry_run:
        return
    stage_experiments(copies if plan.experiments else (), plan.experiments)
    outcome = execute_plan(plan, out)
    try:
        compare_command(recorded.run_dir, plan.run_dir)
    except RunFolderError as exc:  # the new run left no readable summary: say so, keep its code
        sys.stderr.write("chaosgate: warning: " + one_line(f"no comparison: {exc}") + "\n")
    raise typer.Exit(outcome.exit_code)
