"""Generated bad input through the real command line, in-process (click's CliRunner).

Four families, each a bounded Hypothesis run: target files, ``CHAOSGATE_*`` variables,
command-line options and experiment files, built from valid-looking structures whose values
and types are mutated, with nasty strings (``[/x]``, ``:x:``, ``http://[zz]:1``, NUL, very
long ones). Every example goes through ``validate``, ``run --dry-run`` or ``target show``
and must end with exit 0 (the input was valid after all) or exit 2 with exactly one line on
stderr starting ``chaosgate: error:``; an exception escaping ``main`` fails the example. Each
family prints how many examples it ran, accepted and refused.
"""

from __future__ import annotations

import copy
import json
import os
import string
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from chaosgate.cli import main
from chaosgate.env_names import SUITE_ENV_VARS
from chaosgate.target import Target
from chaosgate.target_env import env_leaves

ROOT = Path(__file__).resolve().parents[2]
# per family: 30 in plain `pytest`, 150 in scripts/test (`--hypothesis-profile=thorough`,
# the profiles are in tests/unit/conftest.py)
BOUNDED = settings(
    deadline=None,  # the first example also asks Locust for its user classes
    derandomize=True,  # the same examples on every run: CI does not flake on a new find
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
COMMANDS = (["validate"], ["run", "--dry-run"], ["target", "show"])

NASTY = [
    "[/x]",
    "[bold]b[/bold]",
    ":x:",
    "http://[zz]:1",
    "http://[fe80::1]:80",
    "http://user:pw@h:1",
    "http://h:99999",
    "ftp://h",
    "",
    " ",
    "\t\n",
    "a\x00b",
    "\x1b[31mred",
    "x" * 5000,
    "ü" * 300,
    "${gateway_url}",
    "-1",
    "1e23",
    "nan",
    "inf",
    "0",
    "true",
    "null",
    "~",
    "&a *a",
    "../../etc/passwd",
    "/dev/zero",
    ".",
    "/",
]
NUMBERS = [0, -1, 1, 30, 3600, 3601, 1e23, -1e23, 1e308, 0.5, 2**64, float("nan"), float("inf")]

counts: dict[str, Counter[str]] = {}


def texts() -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(NASTY), st.text(max_size=40))


def values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(texts(), st.sampled_from(NUMBERS), st.booleans(), st.none(), st.integers())
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(texts(), inner, max_size=3)
        ),
        max_leaves=6,
    )


def paths_in(document: object, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in ``document`` (the root included)."""
    yield prefix
    if isinstance(document, dict):
        for key, child in document.items():
            yield from paths_in(child, (*prefix, key))
    elif isinstance(document, list):
        for index, child in enumerate(document):
            yield from paths_in(child, (*prefix, index))


@st.composite
def mutated(draw: st.DrawFn, base: object) -> object:
    """``base`` with one to three values replaced, keys added or removed."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        paths = list(paths_in(document))
        path = draw(st.sampled_from(paths))
        how = draw(st.sampled_from(["replace", "replace", "add", "delete"]))
        if not path:
            if how == "replace":
                document = draw(values())
            continue
        parent: Any = document
        for part in path[:-1]:
            parent = parent[part]
        if how == "replace":
            parent[path[-1]] = draw(values())
        elif how == "add" and isinstance(parent, dict):
            parent[draw(texts())] = draw(values())
        elif how == "delete":
            del parent[path[-1]]
    return document


def run_cli(
    family: str, argv: list[str], env: Mapping[str, str], state_dir: Path
) -> tuple[int, str]:
    """``chaosgate argv`` in-process with ``env`` (every other CHAOSGATE_ variable unset); checks
    the contract and returns (exit code, stderr)."""
    isolated: dict[str, str | None] = {
        name: None for name in os.environ if name.upper().startswith("CHAOSGATE")
    }
    isolated.update({"ES_PASSWORD": "s3cret", "CHAOSGATE_STATE_DIR": str(state_dir)})
    isolated.update(env)
    with CliRunner().isolation(env=isolated) as (_out, err, _mixed):
        code = main(argv)
        stderr = err.getvalue().decode("utf-8", "replace")
    tally = counts.setdefault(family, Counter())
    tally["examples"] += 1
    tally["accepted" if code == 0 else "refused"] += 1
    assert "Traceback" not in stderr
    if code == 0:
        assert stderr == "", stderr
    else:
        assert code == 2, (argv, env, stderr)
        assert stderr.startswith("chaosgate: error: "), stderr
        assert stderr.count("\n") == 1 and stderr.endswith("\n"), stderr
    return code, stderr


def report(family: str, capsys: pytest.CaptureFixture[str]) -> None:
    tally = counts.get(family, Counter())
    with capsys.disabled():
        print(
            f"\n[bad input] {family}: {tally['examples']} examples, "
            f"{tally['accepted']} accepted, {tally['refused']} refused"
        )
    assert tally["refused"] > 0


# --- target files ---

TARGET_BASE: dict[str, Any] = {
    "name": "staging",
    "gateway_url": "http://127.0.0.1:8080",
    "jaeger": {"query_url": "http://127.0.0.1:16686"},
    "elasticsearch": {
        "url": "http://127.0.0.1:9200",
        "index_pattern": "restaurant-logs-*",
        "trace_id_field": "trace_id",
        "auth": {"username": "elastic", "password_env": "ES_PASSWORD"},
        "verify_tls": True,
    },
    "sink": {"url": "http://127.0.0.1:9095", "receivers": ["webhook"]},
    "kubernetes": {"context": None, "namespaces": ["restaurant"], "stress_node": None},
    "chaos": "kubernetes",
    "deadlines": {"traces_s": 30, "logs_s": 30, "alerts_s": 30},
}
RAW_TARGETS = [
    "a: " + "[" * 500 + "]" * 500,
    "kubernetes: &a {namespaces: *a}",
    "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcde", "bcdef", strict=True)
    ),
    "gateway_url: [unclosed",
    "\tname: tab",
    "- a list",
    "just text",
    "",
    "name: \x07bell",
    'name: "\\0nul"',
    "password: hunter2",
    "elasticsearch: {auth: {api_key: k}}",
]


@st.composite
def target_texts(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(RAW_TARGETS))
    document = draw(mutated(TARGET_BASE))
    return yaml.safe_dump(document, allow_unicode=True)


def test_generated_target_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"

    @BOUNDED
    @given(data=st.data())
    def example(data: st.DataObject) -> None:
        text = data.draw(target_texts())
        path = tmp_path / data.draw(st.sampled_from(["t.yaml", "[x].yaml", ":x:.yaml", "t.yml"]))
        path.write_text(text, encoding="utf-8")
        command = data.draw(st.sampled_from(COMMANDS))
        run_cli("target files", [*command, "--target", str(path)], {}, state)

    example()
    report("target files", capsys)


# --- CHAOSGATE_ variables ---

FIELD_VARS = sorted(env_leaves(Target))
SUITE_VARS = sorted(set(SUITE_ENV_VARS) - {"CHAOSGATE_STATE_DIR", "CHAOSGATE_HOME"})


@st.composite
def misspelt(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(FIELD_VARS + SUITE_VARS + ["CHAOSGATE_PORT_GATEWAY"]))
    how = draw(st.sampled_from(["drop", "swap", "lower", "single", "double", "insert"]))
    rest = name.removeprefix("CHAOSGATE_")
    index = draw(st.integers(0, max(len(rest) - 2, 0)))
    if how == "drop":
        rest = rest[:index] + rest[index + 1 :]
    elif how == "swap":
        rest = (
            rest[:index] + rest[index + 1 : index + 2] + rest[index : index + 1] + rest[index + 2 :]
        )
    elif how == "lower":
        return name.lower()
    elif how == "single":
        rest = rest.replace("__", "_")
    elif how == "double":
        rest = rest.replace("_", "__", 1)
    else:
        rest = rest[:index] + draw(st.sampled_from(string.ascii_uppercase)) + rest[index:]
    return "CHAOSGATE_" + rest


def env_values() -> st.SearchStrategy[str]:
    return texts().map(lambda text: text.replace("\x00", ""))  # no NUL in a real environment


def test_generated_variables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    names = st.one_of(st.sampled_from(FIELD_VARS), st.sampled_from(SUITE_VARS), misspelt())

    @BOUNDED
    @given(env=st.dictionaries(names, env_values(), min_size=1, max_size=3), data=st.data())
    def example(env: dict[str, str], data: st.DataObject) -> None:
        command = data.draw(st.sampled_from(COMMANDS))
        target = data.draw(st.sampled_from([[], ["--target", "local-k8s"]]))
        run_cli("variables", [*command, *target], env, state)

    example()
    report("variables", capsys)


# --- command-line options ---

OPTIONS: Mapping[str, Callable[[], st.SearchStrategy[str]]] = {
    "--target": lambda: st.sampled_from(["local", "local-k8s", *NASTY]),
    "--profile": lambda: st.sampled_from(["smoke", "gate", "nightly", *NASTY]),
    "--experiment": lambda: st.sampled_from(
        ["kill-users-service", "kill-users-pods", "gateway-error-ratio.json", *NASTY]
    ),
    "--scenario": lambda: st.sampled_from(["Customer", "IoTDevice", *NASTY]),
    "--users": lambda: st.one_of(st.sampled_from(NASTY), st.integers().map(str)),
    "--duration": lambda: st.one_of(st.sampled_from(NASTY), st.integers().map(str)),
    "--seed": lambda: st.one_of(st.sampled_from(NASTY), st.integers().map(str)),
    "--reports": lambda: st.sampled_from(["reports", "/dev/null", "/proc/x", *NASTY]),
    "--port": lambda: st.sampled_from(["gateway=18080", "gateway=0", "nope=1", *NASTY]),
    "--usres": lambda: texts(),
}
TAKES = {
    "validate": ["--target", "--profile", "--experiment", "--scenario", "--port"],
    "run": list(OPTIONS),
    "target": ["--target", "--port"],
}


@st.composite
def option_argv(draw: st.DrawFn) -> list[str]:
    command = list(draw(st.sampled_from(COMMANDS)))
    taken = TAKES[command[0]]
    argv = list(command)
    for option in draw(st.lists(st.sampled_from([*taken, "--usres"]), min_size=1, max_size=3)):
        argv += [option, draw(OPTIONS[option]())]
    if draw(st.integers(0, 9)) == 0:
        argv = argv[:-1]  # an option without its value
    return argv


def test_generated_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    cwd = Path.cwd()
    os.chdir(tmp_path)  # relative --reports and --target values land here
    try:

        @BOUNDED
        @given(argv=option_argv())
        def example(argv: list[str]) -> None:
            run_cli("options", argv, {}, state)

        example()
    finally:
        os.chdir(cwd)
    report("options", capsys)


# --- experiment files ---

EXPERIMENTS = {
    "local": json.loads((ROOT / "experiments/local/gateway-error-ratio.json").read_text()),
    "local-k8s": json.loads((ROOT / "experiments/k8s/kill-users-pods.json").read_text()),
}


def test_generated_experiment_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"

    @BOUNDED
    @given(data=st.data())
    def example(data: st.DataObject) -> None:
        kind = data.draw(st.sampled_from(sorted(EXPERIMENTS)))
        document = data.draw(mutated(EXPERIMENTS[kind]))
        suffix = data.draw(st.sampled_from([".json", ".json", ".yaml"]))
        path = tmp_path / f"experiment{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps(document), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        target = data.draw(st.sampled_from(["local", "local-k8s"]))
        command = data.draw(st.sampled_from(COMMANDS[:2]))
        argv = [*command, "--target", target, "--experiment", str(path)]
        run_cli("experiment files", argv, {}, state)

    example()
    report("experiment files", capsys)
