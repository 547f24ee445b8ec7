"""The GitHub Actions examples (examples/ci/github/): linted by actionlint, and read for what
they promise.

actionlint (built from its Go module by tests/tools/build_actionlint.py, which scripts/test
runs first) checks the workflow syntax, the expressions and the contexts they use, the cron
schedule, the jobs' needs and the inputs of the actions it knows. Its tests skip, saying how
to build it, when it is not in the build cache; its shellcheck and pyflakes integrations are
off, so that the result does not depend on what else the machine has installed. The other
tests need nothing but the files: the nightly runs on a schedule, publishes the run folder,
the JUnit results and the trend; the gate's job result is the run's exit code; both run
`chaosgate cleanup` after a cancelled or failed run; every chaosgate command line they hold
parses with chaosgate's own command line and names a real profile.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from typer.core import TyperGroup

from chaosgate.cli import app
from chaosgate.env_names import SUITE_ENV_VARS
from chaosgate.run.profiles import PROFILES
from refstack.launcher.builds import BuildError
from refstack.launcher.layout import StackLayout
from tests.tools.build_actionlint import (
    ACTIONLINT_MODULE,
    ACTIONLINT_PKG,
    MODULE_DIR,
    actionlint_path,
    actionlint_version,
    ensure_actionlint,
    find_actionlint,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "ci" / "github"
NIGHTLY = EXAMPLES / "nightly.yml"
GATE = EXAMPLES / "gate.yml"
Workflow = dict[str, Any]
Step = dict[str, Any]
# what a runner sets for every step; anything else a command line uses must come from an env:
# map or from a step's `NAME=value >> "$GITHUB_ENV"` line
RUNNER_VARIABLES = {"RUNNER_TEMP": "/runner/temp", "GITHUB_ENV": "/runner/env"}
_GITHUB_ENV_LINE = re.compile(r"""echo\s+"(\w+)=([^"]*)"\s*>>\s*"\$GITHUB_ENV\"""")
_VARIABLE = re.compile(r"\$\{?(\w+)\}?")


# --- reading the workflows ---


def load(path: Path) -> Workflow:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(document, dict), f"{path}: not a YAML mapping"
    if True in document:  # YAML 1.1 reads the key `on` as a boolean
        document["on"] = document.pop(True)
    return document


def steps(workflow: Workflow, job: str) -> list[Step]:
    found: list[Step] = workflow["jobs"][job]["steps"]
    return found


def script_lines(step: Step) -> Iterator[str]:
    """The lines of a step's ``run:`` script, continued lines joined."""
    yield from (line.strip() for line in step.get("run", "").replace("\\\n", " ").splitlines())


def the_step(job_steps: list[Step], command: str) -> tuple[int, Step]:
    """The one step whose script runs ``command`` (e.g. "chaosgate cleanup"), with its index."""
    found = [
        (index, step)
        for index, step in enumerate(job_steps)
        if any(line.startswith(command + " ") for line in script_lines(step))
    ]
    assert len(found) == 1, f"{len(found)} steps run `{command}`, expected one"
    return found[0]


def the_action(job_steps: list[Step], action: str) -> list[Step]:
    return [step for step in job_steps if step.get("uses", "").split("@")[0] == action]


def environment(workflow: Workflow, job: str) -> dict[str, str]:
    """What a command line of ``job`` can expand: the workflow's and the job's env, the
    variables steps append to $GITHUB_ENV, and the runner's own."""
    values = dict(RUNNER_VARIABLES)
    values |= {k: str(v) for k, v in workflow.get("env", {}).items()}
    values |= {k: str(v) for k, v in workflow["jobs"][job].get("env", {}).items()}
    for step in steps(workflow, job):
        for line in script_lines(step):
            for name, value in _GITHUB_ENV_LINE.findall(line):
                values[name] = expand(value, values)
    return values


def expand(word: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        assert match[1] in values, f"{word!r}: nothing in the workflow sets ${match[1]}"
        return values[match[1]]

    return _VARIABLE.sub(value, word)


def chaosgate_commands(workflow: Workflow, job: str) -> list[list[str]]:
    """Every ``chaosgate ...`` line of the job's scripts, split and expanded as bash would."""
    values = environment(workflow, job)
    return [
        [expand(word, values) for word in shlex.split(line)[1:]]
        for step in steps(workflow, job)
        for line in script_lines(step)
        if line.startswith("chaosgate ")
    ]


def env_expression(text: str, values: dict[str, str]) -> str:
    """``${{ env.NAME }}`` expressions of ``text`` replaced by their values."""
    return re.sub(r"\$\{\{\s*env\.(\w+)\s*\}\}", lambda m: expand("$" + m[1], values), text)


def option(command: list[str], name: str) -> str:
    assert name in command, f"`chaosgate {' '.join(command)}` has no {name}"
    return command[command.index(name) + 1]


# --- actionlint ---


@pytest.fixture(scope="session")
def actionlint() -> Path:
    found = find_actionlint(StackLayout.from_os_env().cache_dir)
    if found is None:
        pytest.skip(
            "actionlint is not built (no "
            f"{actionlint_path(StackLayout.from_os_env().cache_dir)}); build it with "
            "`.venv/bin/python -m tests.tools.build_actionlint` (needs Go; scripts/test does)"
        )
    return found


def lint(binary: Path, *files: Path) -> list[dict[str, Any]]:
    """actionlint's findings over ``files`` (JSON), machine-independent: no shellcheck, no
    pyflakes."""
    proc = subprocess.run(
        [str(binary), "-format", "{{json .}}", "-shellcheck=", "-pyflakes=", "-no-color"]
        + [str(path) for path in files],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (0, 1), f"actionlint failed ({proc.returncode}): {proc.stderr}"
    findings: list[dict[str, Any]] = json.loads(proc.stdout) or []
    assert (proc.returncode == 1) == bool(findings), proc.stdout
    return findings


def readable(findings: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{Path(f['filepath']).name}:{f['line']}:{f['column']}: {f['message']} [{f['kind']}]"
        for f in findings
    )


@pytest.mark.tools
def test_the_actionlint_build_is_the_pinned_version(actionlint: Path) -> None:
    proc = subprocess.run(
        [str(actionlint), "-version"], capture_output=True, text=True, timeout=30, check=True
    )
    assert proc.stdout.splitlines()[0] == actionlint_version(MODULE_DIR / "go.mod")


@pytest.mark.tools
def test_the_examples_pass_actionlint(actionlint: Path) -> None:
    findings = lint(actionlint, NIGHTLY, GATE)
    assert findings == [], "actionlint:\n" + readable(findings)


BROKEN = [
    # (file, text replaced, replacement, the kind of finding, the text on the finding's line)
    (NIGHTLY, "if: (cancelled() ||", "if: (canceled() ||", "expression", None),
    (NIGHTLY, 'cron: "17 2 * * *"', 'cron: "17 25 * * *"', "events", None),
    (NIGHTLY, "if-no-files-found: warn", "if-no-file-found: warn", "action", None),
    (GATE, "needs: gate", "needs: gated", "job-needs", "  release:"),
    (GATE, "timeout-minutes: 30", "timeout-minutes: half an hour", "syntax-check", None),
]


@pytest.mark.parametrize(
    ("source", "old", "new", "kind", "at"),
    BROKEN,
    ids=[f"{source.stem}-{kind}" for source, _old, _new, kind, _at in BROKEN],
)
@pytest.mark.tools
def test_actionlint_reports_a_broken_copy(
    actionlint: Path, tmp_path: Path, source: Path, old: str, new: str, kind: str, at: str | None
) -> None:
    text = source.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{source.name} no longer holds {old!r} once"
    broken = tmp_path / source.name
    broken.write_text(text.replace(old, new), encoding="utf-8")
    line = text[: text.index(at or old)].count("\n") + 1
    findings = lint(actionlint, broken)
    assert any(f["line"] == line and f["kind"] == kind for f in findings), (
        f"no {kind} finding on line {line}:\n{readable(findings)}"
    )


# --- the build (a fake go: no Go needed) ---


class FakeGo:
    def __init__(self) -> None:
        self.calls: list[tuple[list[str], Path]] = []

    def __call__(self, args: list[str], cwd: Path, log: Path, what: str) -> None:
        self.calls.append((args, cwd))
        Path(args[args.index("-o") + 1]).write_text(f"{what}\n")


class NoGo:
    def __call__(self, args: list[str], cwd: Path, log: Path, what: str) -> None:
        raise AssertionError(f"go {args} ran although {what} is cached")


@pytest.fixture
def module_dir(tmp_path: Path) -> Path:
    module = tmp_path / "module"
    module.mkdir()
    (module / "go.mod").write_text(
        f"module m\n\ntool {ACTIONLINT_PKG}\n\nrequire {ACTIONLINT_MODULE} v1.7.12 // indirect\n"
    )
    (module / "go.sum").write_text(f"{ACTIONLINT_MODULE} v1.7.12 h1:x=\n")
    return module


def test_the_build_stamps_the_version_then_reuses_the_cache(
    tmp_path: Path, module_dir: Path
) -> None:
    go = FakeGo()
    cache, logs = tmp_path / "cache", tmp_path / "logs"
    first = ensure_actionlint(cache, logs, module_dir=module_dir, run_go=go)
    assert first.built and first.output == actionlint_path(cache, module_dir)
    assert first.output.read_text() == "actionlint v1.7.12\n"
    ((args, cwd),) = go.calls
    assert cwd == module_dir and args[0] == "build" and args[-1] == ACTIONLINT_PKG
    assert f"-X {ACTIONLINT_MODULE}.version=v1.7.12" in args[args.index("-ldflags") + 1]
    assert not list(cache.rglob("*.partial"))
    again = ensure_actionlint(cache, logs, module_dir=module_dir, run_go=NoGo())
    assert (again.built, again.output) == (False, first.output)
    assert find_actionlint(cache, module_dir) == first.output


def test_a_new_pin_is_a_new_build(tmp_path: Path, module_dir: Path) -> None:
    cache = tmp_path / "cache"
    first = ensure_actionlint(cache, tmp_path, module_dir=module_dir, run_go=FakeGo())
    gomod = module_dir / "go.mod"
    gomod.write_text(gomod.read_text().replace("v1.7.12", "v1.7.13"))
    assert find_actionlint(cache, module_dir) is None
    second = ensure_actionlint(cache, tmp_path, module_dir=module_dir, run_go=FakeGo())
    assert second.built and second.output != first.output
    assert second.output.read_text() == "actionlint v1.7.13\n"


def test_a_module_without_actionlint_is_refused(tmp_path: Path, module_dir: Path) -> None:
    (module_dir / "go.mod").write_text("module m\n\nrequire example.com/other v1.0.0\n")
    with pytest.raises(BuildError, match=r"does not require github\.com/rhysd/actionlint"):
        ensure_actionlint(tmp_path / "cache", tmp_path, module_dir=module_dir, run_go=FakeGo())


# --- what the workflows promise (no actionlint needed) ---


@pytest.mark.parametrize("path", [NIGHTLY, GATE], ids=["nightly", "gate"])
def test_every_action_is_pinned_by_its_major_version(path: Path) -> None:
    workflow = load(path)
    used = [
        step["uses"]
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "uses" in step
    ]
    assert used
    unpinned = [u for u in used if not re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", u)]
    assert unpinned == []


@pytest.mark.parametrize(("path", "job"), [(NIGHTLY, "nightly"), (GATE, "gate")])
def test_a_cancelled_or_failed_run_is_cleaned_up_first(path: Path, job: str) -> None:
    job_steps = steps(load(path), job)
    run_at, _ = the_step(job_steps, "chaosgate run")
    cleanup_at, cleanup = the_step(job_steps, "chaosgate cleanup")
    assert cleanup_at == run_at + 1, "cleanup comes right after the run, before the uploads"
    condition = cleanup["if"].replace(" ", "")
    assert "cancelled()||failure()" in condition, condition
    assert "always()" not in condition
    commands = chaosgate_commands(load(path), job)
    (run_command,) = [c for c in commands if c[0] == "run"]
    (cleanup_command,) = [c for c in commands if c[0] == "cleanup"]
    assert option(cleanup_command, "--target") == option(run_command, "--target")


@pytest.mark.parametrize(("path", "job"), [(NIGHTLY, "nightly"), (GATE, "gate")])
def test_the_run_folder_and_the_junit_results_are_published(path: Path, job: str) -> None:
    workflow = load(path)
    job_steps = steps(workflow, job)
    (run_command,) = [c for c in chaosgate_commands(workflow, job) if c[0] == "run"]
    reports = option(run_command, "--reports")
    uploads = the_action(job_steps, "actions/upload-artifact")
    (upload,) = [step for step in uploads if "reports" in step["with"]["path"]]
    assert upload["if"] == "always()", "an interrupted run's folder is published too"
    assert upload["with"]["path"].rstrip("/") == reports
    (junit,) = the_action(job_steps, "EnricoMi/publish-unit-test-result-action")
    assert junit["with"]["files"] == f"{reports}/*/junit.xml"
    assert workflow["permissions"]["checks"] == "write", "the JUnit action writes a check run"


def test_the_nightly_runs_on_a_schedule_and_on_demand() -> None:
    triggers = load(NIGHTLY)["on"]
    assert set(triggers) == {"schedule", "workflow_dispatch"}
    (schedule,) = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5


def test_the_nightly_publishes_the_trend_of_the_runs_it_keeps() -> None:
    workflow = load(NIGHTLY)
    job_steps = steps(workflow, "nightly")
    values = environment(workflow, "nightly")
    commands = chaosgate_commands(workflow, "nightly")
    (run_command,) = [c for c in commands if c[0] == "run"]
    (trend,) = [c for c in commands if c[0] == "trend"]
    assert option(run_command, "--profile") == option(trend, "--profile") == "nightly"
    history = trend[1]
    (restore,) = the_action(job_steps, "actions/cache/restore")
    (save,) = the_action(job_steps, "actions/cache/save")
    for cache in (restore, save):
        assert env_expression(cache["with"]["path"], values) == history
    assert save["with"]["key"] == restore["with"]["key"]
    assert restore["with"]["key"].startswith(restore["with"]["restore-keys"])
    uploads = [s["with"]["path"] for s in the_action(job_steps, "actions/upload-artifact")]
    assert option(trend, "--html") in uploads
    trend_at, _ = the_step(job_steps, "chaosgate trend")
    add_at = next(i for i, s in enumerate(job_steps) if "summary.json" in s.get("run", ""))
    assert add_at < trend_at < job_steps.index(save), "add the run, draw the trend, then save"


def test_the_gate_job_result_is_the_runs_exit_code() -> None:
    workflow = load(GATE)
    gate = workflow["jobs"]["gate"]
    _, run = the_step(gate["steps"], "chaosgate run")
    assert "continue-on-error" not in run and "continue-on-error" not in gate
    assert "||" not in run["run"] and ";" not in run["run"], "nothing may mask the exit code"
    assert 0 < run["timeout-minutes"] < gate["timeout-minutes"], "time left for the cleanup"
    (run_command,) = [c for c in chaosgate_commands(workflow, "gate") if c[0] == "run"]
    assert option(run_command, "--profile") == "gate"
    assert workflow["jobs"]["release"]["needs"] == "gate"


@pytest.mark.parametrize(("path", "job"), [(NIGHTLY, "nightly"), (GATE, "gate")])
def test_every_chaosgate_command_parses_and_names_a_real_profile(path: Path, job: str) -> None:
    cli = typer.main.get_command(app)
    assert isinstance(cli, TyperGroup)
    commands = chaosgate_commands(load(path), job)
    assert {c[0] for c in commands} >= {"run", "cleanup"}
    for words in commands:
        context = cli.make_context("chaosgate", list(words))
        command = cli.get_command(context, words[0])
        assert command is not None, f"chaosgate has no command {words[0]!r}"
        params = command.make_context(words[0], words[1:]).params  # raises on a bad option
        if params.get("profile") is not None:
            assert params["profile"] in PROFILES, f"no profile {params['profile']!r}"


@pytest.mark.parametrize("path", [NIGHTLY, GATE], ids=["nightly", "gate"])
def test_no_workflow_sets_an_unknown_chaosgate_variable(path: Path) -> None:
    """chaosgate refuses to run with a CHAOSGATE_ variable it does not know (exit 2)."""
    workflow = load(path)
    names = set(workflow.get("env", {}))
    for job in workflow["jobs"].values():
        names |= set(job.get("env", {}))
        for step in job.get("steps", []):
            names |= set(step.get("env", {}))
    assert {n for n in names if n.upper().startswith("CHAOSGATE_")} - set(SUITE_ENV_VARS) == set()
