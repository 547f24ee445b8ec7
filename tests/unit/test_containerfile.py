"""The Containerfile of the chaosgate/suite image, read as text: no container engine is needed
(and none exists on these machines, so the image itself is never built here).

What can be checked without building it: both stages start from a slim Python that
pyproject.toml's ``requires-python`` admits; the wheel is built in the first stage and
installed from there in the second, which runs as the non-root uid and gid every pod of
manifests/suite runs as; the image's entrypoint is ``chaosgate``, every command those pods run
is a console script of the wheel or of its dependencies, and Locust's processes find the
locustfile they name in the working directory; the image name and tag agree with the
kustomization and the README; every file the Containerfile copies exists and is not left out
of the build context by .containerignore.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from tests.unit.manifests.support import pod_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPO_ROOT / "Containerfile"
CONTAINERIGNORE = REPO_ROOT / ".containerignore"
SUITE = REPO_ROOT / "manifests" / "suite"
WORKLOAD_KINDS = {"Deployment", "Job", "CronJob"}
_SLIM_PYTHON = re.compile(r"(?:docker\.io/library/)?python:(?P<version>3\.\d+)(?:\.\d+)?-slim\S*")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # continuation lines joined by a space
    line: int  # where it starts, 1-based


@dataclass(frozen=True)
class Stage:
    image: str  # the base image, build arguments substituted
    name: str | None  # FROM ... AS name
    instructions: tuple[Instruction, ...]

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert found, f"the stage FROM {self.image} has no {keyword}"
        return found[-1]


def parse_instructions(text: str) -> list[Instruction]:
    """Instructions as a builder reads them: comments and blank lines dropped (inside a
    continued instruction too), lines ending in a backslash joined to the next."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        keyword, _, args = " ".join([*pending, stripped]).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    assert not pending, "the file ends inside a continued instruction"
    return instructions


def substitute(text: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in values, f"${name} has no default ARG before the first FROM"
        return values[name]

    return _VARIABLE.sub(value, text)


def parse_stages(text: str) -> list[Stage]:
    """The build stages, each FROM with the instructions up to the next FROM."""
    instructions = parse_instructions(text)
    args: dict[str, str] = {}
    stages: list[Stage] = []
    body: list[Instruction] = []
    head: tuple[str, str | None] | None = None
    for instruction in instructions:
        if instruction.keyword == "ARG" and head is None:
            name, _, default = instruction.args.partition("=")
            args[name.strip()] = default.strip()
        elif instruction.keyword == "FROM":
            if head is not None:
                stages.append(Stage(head[0], head[1], tuple(body)))
            words = instruction.args.split()
            stage_name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            head, body = (substitute(words[0], args), stage_name), []
        else:
            assert head is not None, f"line {instruction.line}: {instruction.keyword} before FROM"
            body.append(instruction)
    assert head is not None, "no FROM"
    stages.append(Stage(head[0], head[1], tuple(body)))
    return stages


def flags_and_words(args: str) -> tuple[dict[str, str], list[str]]:
    """``--name=value`` options before the first other word, and the words after them."""
    words = shlex.split(args)
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words


def mount_options(flag: str) -> dict[str, str]:
    """``type=bind,from=build,source=/wheels`` as a mapping."""
    return dict(part.partition("=")[::2] for part in flag.split(","))


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_stages(CONTAINERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


@pytest.fixture(scope="module")
def suite_containers() -> list[dict[str, Any]]:
    """Every container of every workload in manifests/suite, with its pod's securityContext
    under the key "pod_security"."""
    containers: list[dict[str, Any]] = []
    for path in sorted(SUITE.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(document, dict) or document.get("kind") not in WORKLOAD_KINDS:
                continue
            spec = pod_spec(document)
            for container in spec["containers"]:
                containers.append({**container, "pod_security": spec.get("securityContext", {})})
    assert containers, f"no workloads found in {SUITE}"
    return containers


def suite_image(kustomization: dict[str, Any]) -> tuple[str, str]:
    """(name, tag) of the one image manifests/suite/kustomization.yaml sets."""
    (image,) = kustomization["images"]
    return image["name"], image["newTag"]


def test_the_parser_reads_continuations_comments_and_stages() -> None:
    text = (
        "# syntax=docker/dockerfile:1\nARG V=3.12\nFROM python:${V}-slim AS build\n"
        "RUN a \\\n  # a comment inside\n  && b\nFROM python:$V-slim\nUSER 1:1\n"
    )
    build, final = parse_stages(text)
    assert (build.image, build.name, final.image, final.name) == (
        "python:3.12-slim",
        "build",
        "python:3.12-slim",
        None,
    )
    assert build.instructions == (Instruction("RUN", "a && b", 4),)
    assert final.last("USER").args == "1:1"
    with pytest.raises(AssertionError, match="no default ARG"):
        parse_stages("FROM python:${UNSET}-slim\n")


def test_every_stage_starts_from_a_slim_python_the_project_admits(
    stages: list[Stage], pyproject: dict[str, Any]
) -> None:
    admitted = SpecifierSet(pyproject["project"]["requires-python"])
    assert len(stages) >= 2, "a build stage for the wheel and the image's own stage"
    for stage in stages:
        match = _SLIM_PYTHON.fullmatch(stage.image)
        assert match, f"FROM {stage.image} is not the official slim Python image"
        assert admitted.contains(match["version"] + ".0"), (
            f"FROM {stage.image}: Python {match['version']} is outside requires-python {admitted}"
        )


def test_the_wheel_is_built_then_installed_from_the_build_stage_offline(
    stages: list[Stage],
) -> None:
    build, final = stages[0], stages[-1]
    wheel_runs = [r for r in build.all("RUN") if "pip wheel" in r.args]
    assert wheel_runs, "the build stage builds no wheel (`pip wheel`)"
    wheel_words = shlex.split(wheel_runs[-1].args)
    wheel_dir = wheel_words[wheel_words.index("--wheel-dir") + 1]
    # the checkout copied into the stage, with the extra a team's own checks need
    assert wheel_words[-1] == ".[checks]", "`pip wheel` builds the checkout copied into the stage"

    installs = [r for r in final.all("RUN") if "pip install" in r.args]
    assert len(installs) == 1, "the image installs chaosgate with one `pip install`"
    flags, words = flags_and_words(installs[0].args)
    mount = mount_options(flags.get("mount", ""))
    assert mount.get("from") == build.name and mount.get("source") == wheel_dir, (
        f"the install does not mount the wheels of stage {build.name!r} ({wheel_dir})"
    )
    assert "--no-index" in words, "the install must take every wheel from the build stage"
    assert f"--find-links={mount['target']}" in words
    assert words[-1] == "chaosgate[checks]"


def test_the_build_stage_copies_every_package_of_the_wheel(
    stages: list[Stage], pyproject: dict[str, Any]
) -> None:
    copied = {
        PurePosixPath(source).parts[0]
        for copy in stages[0].all("COPY")
        for source in flags_and_words(copy.args)[1][:-1]
    }
    packages = {  # each package's top folder: refstack.launcher* is under refstack/
        pattern.rstrip("*").split(".")[0]
        for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    # a link inside a package (chaosgate/experiments -> ../experiments) needs its target too
    linked = {
        link.resolve().relative_to(REPO_ROOT).parts[0]
        for top in packages
        for link in (REPO_ROOT / top).rglob("*")
        if link.is_symlink()
    }
    assert "experiments" in linked
    wanted = {"pyproject.toml", pyproject["project"]["readme"], *packages, *linked}
    assert wanted <= copied, f"the wheel needs {sorted(wanted - copied)} in the build stage"


def test_the_image_runs_as_the_non_root_user_of_the_manifests(
    stages: list[Stage], suite_containers: list[dict[str, Any]]
) -> None:
    final = stages[-1]
    user = final.last("USER")
    assert re.fullmatch(r"\d+:\d+", user.args), (
        f"USER {user.args}: give numeric uid:gid, so that runAsNonRoot can verify it"
    )
    uid, gid = (int(n) for n in user.args.split(":"))
    assert uid != 0 and gid != 0
    assert user.line > max(i.line for i in final.all("RUN")), "USER comes after every RUN"
    created = " ".join(r.args for r in final.all("RUN"))
    assert f"useradd --uid {uid} --gid {gid}" in created, f"no account for uid {uid}"
    assert f"groupadd --gid {gid}" in created, f"no group for gid {gid}"
    for container in suite_containers:
        pod = container["pod_security"]
        assert pod.get("runAsNonRoot") is True, f"container {container['name']}"
        assert (pod.get("runAsUser"), pod.get("runAsGroup")) == (uid, gid), (
            f"container {container['name']} runs as {pod.get('runAsUser')}:"
            f"{pod.get('runAsGroup')}, the image as {uid}:{gid}"
        )


def test_the_entrypoint_and_every_command_of_the_manifests_are_installed(
    stages: list[Stage], suite_containers: list[dict[str, Any]], pyproject: dict[str, Any]
) -> None:
    final = stages[-1]
    entrypoint = json.loads(final.last("ENTRYPOINT").args)
    assert entrypoint == ["chaosgate"], "the exec form, the wheel's console script"
    scripts = set(pyproject["project"]["scripts"])
    for requirement in pyproject["project"]["dependencies"]:
        dist = distribution(Requirement(requirement).name)
        scripts |= {e.name for e in dist.entry_points if e.group == "console_scripts"}
    assert entrypoint[0] in scripts
    for container in suite_containers:
        assert container["command"][0] in scripts, (
            f"container {container['name']} runs {container['command'][0]!r}, which neither "
            "chaosgate nor its dependencies install"
        )


def test_locust_finds_its_locustfile_in_the_working_directory(
    stages: list[Stage], suite_containers: list[dict[str, Any]]
) -> None:
    final = stages[-1]
    workdir = PurePosixPath(final.last("WORKDIR").args)
    in_workdir = set()
    for copy in final.all("COPY"):
        flags, words = flags_and_words(copy.args)
        destination = PurePosixPath(words[-1])
        if "from" not in flags and copy.line > final.last("WORKDIR").line:
            if not destination.is_absolute():
                destination = workdir / destination
            if destination == workdir:
                in_workdir |= {PurePosixPath(source).name for source in words[:-1]}
    # the workers run the package's own locustfile (`chaosgate worker`); a plain `locust -f`
    # container, as a team may add, must find the file it names in the working directory
    workers = [c for c in suite_containers if c["command"][:2] == ["chaosgate", "worker"]]
    assert workers, "manifests/suite runs no Locust worker"
    assert "locustfile.py" in in_workdir
    locusts = [c for c in suite_containers if c["command"][0] == "locust"]
    for container in locusts:
        command = container["command"]
        locustfile = command[command.index("-f") + 1]
        assert "workingDir" not in container
        assert locustfile in in_workdir, (
            f"container {container['name']} loads {locustfile}, not copied into {workdir}"
        )


def test_the_image_name_and_tag_agree_with_the_manifests_and_the_readme(
    stages: list[Stage], suite_containers: list[dict[str, Any]]
) -> None:
    kustomization = yaml.safe_load((SUITE / "kustomization.yaml").read_text(encoding="utf-8"))
    name, tag = suite_image(kustomization)
    assert {c["image"] for c in suite_containers} == {name}
    labels = shlex.split(" ".join(label.args for label in stages[-1].all("LABEL")))
    assert f"org.opencontainers.image.title={name}" in labels
    build = f"podman build -t {name}:{tag} ."
    assert build in CONTAINERFILE.read_text(encoding="utf-8"), "the header's build command"
    assert build in (REPO_ROOT / "README.md").read_text(encoding="utf-8"), "README's build command"


def test_every_copied_file_exists_and_is_in_the_build_context(stages: list[Stage]) -> None:
    ignored = [
        line.strip()
        for line in CONTAINERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for stage in stages:
        for copy in stage.all("COPY"):
            flags, words = flags_and_words(copy.args)
            if "from" in flags:
                continue
            for source in words[:-1]:
                assert (REPO_ROOT / source).exists(), f"line {copy.line}: no {source}"
                hits = [p for p in ignored if fnmatch.fnmatch(source.rstrip("/"), p)]
                assert not hits, f"line {copy.line}: {source} is excluded by {hits}"
