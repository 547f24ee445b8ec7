"""A team's own checks (``chaosgate run --checks DIR``): pytest tests run after the built-in checks.

The folder holds ordinary pytest test functions that use the plugin's fixtures
(:mod:`chaosgate.checks_plugin`). Before the run, :func:`collect_team_checks` collects them in
a pytest process of their own: a file that cannot be collected, or a folder with no test, is
bad input (:class:`TeamChecksError`, exit 2, naming the file and the error). After the
built-in checks, once summary.json and the ledger are on disk, :func:`run_team_checks` runs
them in a subprocess (a team's code cannot break the runner) against the run's folder, each
test bounded by pytest-timeout, and turns pytest's JUnit XML into one
:class:`~assertions.result.CheckResult` per test, named ``checks.<file>::<test>``: a failed
or timed-out test is a failed check, one that errored in its fixtures or was skipped an error
(never a pass); either makes the run exit 1.
pytest and pytest-timeout come with chaosgate's ``checks`` extra.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml

from assertions.result import CheckResult, Status
from chaosgate.run.profiles import ProfileError
from chaosgate.target import Target

__all__ = ["TeamChecksError", "collect_team_checks", "run_team_checks", "write_checks_target"]

CHECK_PREFIX = "checks."
_COLLECT_TIMEOUT_S = 120.0
_OUTPUT_CHARS = 2000
# pytest's own options only: the folder's checks are not chaosgate's test suite
_ISOLATED = ("-p", "no:cacheprovider", "-o", "addopts=", "-o", "python_files=test_*.py *_test.py")


class TeamChecksError(ProfileError):
    """``--checks DIR`` cannot be run: the message names the folder or file and what to fix."""


def _pytest(python: str, directory: Path, *options: str) -> list[str]:
    return [python, "-m", "pytest", str(directory), "--rootdir", str(directory), *_ISOLATED,
            *options]  # fmt: skip


def collect_team_checks(directory: Path, *, python: str = sys.executable) -> list[str]:
    """The node ids of the checks in ``directory``; TeamChecksError when it has none or a file
    of it cannot be collected."""
    where = f"--checks {directory}"
    if not directory.is_dir():
        raise TeamChecksError(f"{where}: no such folder; give a folder of pytest checks")
    try:
        proc = subprocess.run(
            _pytest(python, directory, "--collect-only", "-q"),
            capture_output=True,
            text=True,
            timeout=_COLLECT_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TeamChecksError(f"{where}: collecting took over {_COLLECT_TIMEOUT_S:g} s") from None
    if "No module named pytest" in proc.stderr:
        raise TeamChecksError(
            f"{where}: pytest is not installed; install chaosgate with its checks extra "
            "(pip install 'chaosgate[checks]')"
        )
    if proc.returncode == 5:
        raise TeamChecksError(f"{where}: no test found (files named test_*.py, functions test_*)")
    if proc.returncode != 0:
        raise TeamChecksError(f"{where}: {_collection_error(proc.stdout + proc.stderr)}")
    return [line for line in proc.stdout.splitlines() if "::" in line]


def _collection_error(output: str) -> str:
    """The first file pytest could not collect and its error, in one line."""
    match = re.search(r"_+ ERROR collecting (\S+) _+\n(.*?)(?=\n_{3,}|\n=+ short test summary)",
                      output, re.S)  # fmt: skip
    if match is None:
        tail = [line for line in output.splitlines() if line.strip()][-3:]
        return "pytest could not collect the checks: " + " | ".join(tail)
    errors = [line[2:] for line in match.group(2).splitlines() if line.startswith("E ")]
    return f"{match.group(1)} cannot be collected: {' '.join(e.strip() for e in errors)}"


def _check_name(case: ElementTree.Element) -> str:
    module = (case.get("classname") or "").split(".")
    file = f"{module[0]}.py" if module and module[0] else "?"
    test = "::".join([*module[1:], case.get("name") or "?"])
    return f"{CHECK_PREFIX}{file}::{test}"


def _result(case: ElementTree.Element, timeout_s: float) -> CheckResult:
    name = _check_name(case)
    seconds = float(case.get("time") or 0.0)
    expected = {"test": "passes", "timeout_s": timeout_s}
    for kind, status in (("failure", Status.FAILED), ("error", Status.ERROR),
                         ("skipped", Status.ERROR)):  # fmt: skip
        found = case.find(kind)
        if found is not None:
            message = (found.get("message") or kind).splitlines()[0][:300]
            text = (found.text or "")[-_OUTPUT_CHARS:]
            observed = "skipped" if kind == "skipped" else kind
            why = f"skipped: {message}" if kind == "skipped" else message
            return CheckResult(name, status, expected, observed, why, seconds, 1, {"output": text})
    return CheckResult(name, Status.PASSED, expected, "passed", "", seconds, 1)


def write_checks_target(target: Target, run_dir: Path) -> Path:
    """The run's target as a target file in the run's folder (``checks-target/<name>.yaml``:
    credentials by reference only, as summary.json has them), for the checks' backends and
    for re-running them by hand with ``--chaosgate-target``."""
    fields = target.redacted_dict()
    fields.pop("name", None)  # a target file's name is its file's
    path = run_dir / "checks-target" / f"{target.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def run_team_checks(
    directory: Path,
    run_dir: Path,
    *,
    target: Target,
    timeout_s: float,
    expected_count: int,
    python: str = sys.executable,
) -> list[CheckResult]:
    """Run the checks in ``directory`` against ``run_dir``; one result per test, or one error
    result when pytest itself could not run them."""
    target_file = write_checks_target(target, run_dir)
    with tempfile.TemporaryDirectory(prefix="chaosgate-checks-") as scratch:
        junit = Path(scratch) / "junit.xml"
        options = ["--chaosgate-run", str(run_dir), "--chaosgate-target", str(target_file),
                   "-p", "no:allure_pytest", "--timeout", f"{timeout_s:g}",
                   "--junitxml", str(junit), "-q"]  # fmt: skip
        bound_s = timeout_s * max(1, expected_count) + _COLLECT_TIMEOUT_S
        try:
            proc = subprocess.run(_pytest(python, directory, *options), capture_output=True,
                                  text=True, timeout=bound_s, check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            return [_whole_error(directory, f"the checks ran past {bound_s:g} s and were stopped")]
        if not junit.is_file():
            output = (proc.stdout + proc.stderr)[-_OUTPUT_CHARS:]
            return [_whole_error(directory, f"pytest exited {proc.returncode}: {output}")]
        cases = ElementTree.parse(junit).getroot().iter("testcase")
        return [_result(case, timeout_s) for case in cases] or [
            _whole_error(directory, f"no test ran (pytest exited {proc.returncode})")
        ]


def _whole_error(directory: Path, why: str) -> CheckResult:
    return CheckResult(f"{CHECK_PREFIX}{directory.name}", Status.ERROR, "the checks run", None,
                       why[:_OUTPUT_CHARS])  # fmt: skip
