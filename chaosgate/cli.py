"""The ``chaosgate`` command line.

Exit codes: 0 success · 1 a check failed / a part is down / the stack could not start ·
2 bad input (config, target, ports, usage) · 3 the target is not healthy enough to test.
Expected errors print one line, ``chaosgate: error: ...``, never a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.table import Table

from chaosgate.chaos.experiments import ExperimentError
from chaosgate.cli_errors import is_help_request, print_error, usage_message
from chaosgate.faults.command import pending_lines, refuse_pending_faults, run_cleanup
from chaosgate.receivers.cli import sink_app
from chaosgate.run.profiles import Profile, ProfileError, resolve_profile
from chaosgate.run.reports_dir import check_reports_dir
from chaosgate.stack.builds import BuildError, ensure_builds, ensure_k8s_builds
from chaosgate.stack.health import PartStatus
from chaosgate.stack.k8s_parts import DEFAULT_POD_START_DELAY_S
from chaosgate.stack.launcher import StackError, stack_down, stack_status, stack_up
from chaosgate.stack.layout import StackLayout
from chaosgate.stack.parts import DEFAULT_RESTART_DELAY_S
from chaosgate.stack.ports import DEFAULT_PORTS, PortError, resolve_ports
from chaosgate.target import ResolvedTarget, Target, TargetError, resolve_target

__all__ = ["app", "main"]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNHEALTHY = 0, 1, 2, 3

app = typer.Typer(
    help="Prove a restaurant platform keeps its observability promises under load and faults.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
stack_app = typer.Typer(
    help="The local reference stack (real Jaeger, OpenSearch, Prometheus, ...)."
)
target_app = typer.Typer(help="Targets: the deployed stack chaosgate verifies.")
app.add_typer(stack_app, name="stack")
app.add_typer(target_app, name="target")
app.add_typer(sink_app, name="sink")

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
PortOption = Annotated[
    list[str] | None,
    typer.Option(
        "--port",
        help="Move one port: NAME=PORT (repeatable); also CHAOSGATE_PORT_<NAME>. "
        f"Names: {', '.join(DEFAULT_PORTS)}.",
    ),
]


def _layout() -> StackLayout:
    return StackLayout.from_env(os.environ)


def _http() -> httpx.Client:
    return httpx.Client(timeout=httpx.Timeout(3.0))


def _load_target(spec: str | None, port_overrides: list[str] | None) -> Target:
    """The target; the built-in ones follow the stack's port overrides."""
    return _resolve_target(spec, port_overrides).target


def _resolve_target(spec: str | None, port_overrides: list[str] | None) -> ResolvedTarget:
    """The target and where each of its values came from."""
    ports = resolve_ports(os.environ, port_overrides or [])
    return resolve_target(spec, env=os.environ, local_ports=ports)


def _plain(text: str) -> None:
    """Print ``text`` on stdout as it is: user values such as ``[x]`` or ``:x:`` are no markup."""
    out.print(text, markup=False, emoji=False, highlight=False, soft_wrap=True)


def _report(message: str) -> None:
    err.print(f"[dim]{message}[/dim]", highlight=False)


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
) -> None:
    """Build what is missing, start every part under supervisord, wait until all are healthy."""
    ports = resolve_ports(os.environ, port or [])
    with _http() as http:
        statuses = stack_up(
            _layout(),
            ports,
            http,
            report=_report,
            timeout_s=timeout,
            restart_delay_s=restart_delay,
            k8s=k8s,
            pod_start_delay_s=pod_start_delay,
        )
    out.print(_status_table(statuses))


@stack_app.command("down")
def stack_down_command() -> None:
    """Stop everything `stack up` started (and nothing else)."""
    if stack_down(_layout(), report=_report):
        out.print("stack stopped")
    else:
        out.print("no stack was running")


@stack_app.command("status")
def stack_status_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show every part's URL and state; exit 1 when a part is down or no stack runs."""
    layout = _layout()
    with _http() as http:
        statuses = stack_status(layout, http)
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
        out.print_json(json.dumps({"running": True, "parts": parts, "faults_not_undone": faults}))
    else:
        out.print(_status_table(statuses))
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
            target = _load_target(name, None)
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
    """Build (or find in the cache) Jaeger and the OpenSearch node (and with --k8s, etcd and
    the Kubernetes control plane)."""
    results = list(ensure_builds(_layout(), report=_report).results)
    if k8s:
        results += ensure_k8s_builds(_layout(), report=_report).results
    for result in results:
        state = f"built in {result.seconds:.0f} s" if result.built else "cached"
        out.print(f"{result.part}: {state}: {result.output}")


@target_app.command("show")
def target_show_command(target: TargetOption = None, port: PortOption = None) -> None:
    """Print the resolved target (file + environment), credentials redacted."""
    resolved = _load_target(target, port)
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
    resolved = _load_target(target, port)
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
    resolved = _resolve_target(target, port)
    plan_profile = _resolve_profile(
        profile, experiment, scenario, None, None, None, resolved.target
    )
    paths = _validate_experiments(plan_profile, resolved)
    _validate_scenarios(plan_profile)
    _plain(f"target {resolved.target.name!r}: ok ({resolved.target.chaos} chaos)")
    _plain(f"profile {plan_profile.name!r}: ok ({', '.join(plan_profile.scenarios)})")
    for path in paths:
        _plain(f"experiment {path.name}: ok")


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
) -> None:
    """Load and chaos together, then traces / logs / alerts / SLO checks; the exit code decides."""
    from chaosgate.run.plan import build_plan, describe_plan, execute_plan

    resolved = _resolve_target(target, port)
    plan_profile = _resolve_profile(
        profile, experiment, scenario, users, duration, seed, resolved.target
    )
    check_reports_dir(reports_dir)
    paths = _validate_experiments(plan_profile, resolved)
    _validate_scenarios(plan_profile)
    refuse_pending_faults(resolved.target)
    plan = build_plan(resolved.target, plan_profile, paths, reports_dir, command=sys.argv)
    _plain(describe_plan(plan))
    if dry_run:
        return
    outcome = execute_plan(plan, out)
    raise typer.Exit(outcome.exit_code)


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


def _validate_experiments(profile: Profile, resolved: ResolvedTarget) -> list[Path]:
    """chaoslib's validation of each experiment, then the target's namespace allowlist: no
    Kubernetes activity may act outside ``kubernetes.namespaces`` (nothing is contacted)."""
    from chaosgate.chaos.experiments import validate_experiment
    from chaosgate.chaos.k8s_namespaces import check_kubernetes_scope

    target = resolved.target
    allowlist = resolved.origin("kubernetes", "namespaces")
    paths = profile.experiment_paths()
    for path in paths:
        if not path.is_file():
            raise ProfileError(f"profile {profile.name!r}: experiment file {path} does not exist")
        experiment = validate_experiment(path, target=target.name, chaos=target.chaos)
        check_kubernetes_scope(
            experiment,
            source=str(path),
            target=target.name,
            chaos=target.chaos,
            namespaces=target.kubernetes.namespaces,
            allowlist=allowlist,
        )
    return paths


@functools.cache
def _user_classes(lister: Callable[[], list[str]]) -> tuple[str, ...]:
    """Locust's answer, asked once per process (it starts Locust in a process of its own)."""
    return tuple(lister())


def _validate_scenarios(profile: Profile) -> None:
    """Ask Locust itself (in its own process) which user classes the locustfile exports."""
    from chaosgate.run.load import list_user_classes

    available = _user_classes(list_user_classes)
    missing = [name for name in profile.scenarios if name not in available]
    if missing:
        raise ProfileError(
            f"scenario {missing[0]!r} is not a user class of locustfile.py "
            f"(it has {', '.join(sorted(available)) or 'none'})"
        )


def main(argv: list[str] | None = None) -> int:
    """Entry point: map expected errors to one plain line (:func:`print_error`) and an exit
    code; the option parser's usage errors are bad input too."""
    try:
        # without standalone mode, typer returns the code of a `typer.Exit` instead of exiting
        code = app(args=argv, prog_name="chaosgate", standalone_mode=False)
    except (TargetError, PortError, ProfileError, ExperimentError) as exc:
        print_error(str(exc))
        return EXIT_BAD_INPUT
    except (StackError, BuildError) as exc:
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
