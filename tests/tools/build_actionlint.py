"""Build actionlint, the linter for GitHub Actions workflow files, from its Go module, or find
the build in the cache.

tests/unit/test_ci_examples.py lints the CI examples (examples/ci/github/) with it. Its
version is pinned by the Go module beside this file (``actionlint/go.mod`` and ``go.sum``), and
the binary is cached as ``<build cache>/bin/actionlint-<hash of go.mod and go.sum>``, the
same way the stack's Go builds are (refstack/launcher/builds.py, whose hash and ``go`` runner
this reuses): a build runs only when the pin changes, and a fresh clone reuses the cache.

It is a tool of the tests, like ruff and mypy, and nothing the suite runs, so it lives here
rather than in the ``chaosgate`` package the wheel ships. The tests only look the binary up
(:func:`find_actionlint`) and skip without it; ``python -m tests.tools.build_actionlint``
builds it (scripts/test runs that before pytest).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

from refstack.launcher.builds import BuildError, BuildResult, GoRunner, inputs_hash
from refstack.launcher.builds import run_go as go_runner
from refstack.launcher.layout import StackLayout

__all__ = [
    "ACTIONLINT_MODULE",
    "ACTIONLINT_PKG",
    "MODULE_DIR",
    "actionlint_path",
    "actionlint_version",
    "ensure_actionlint",
    "find_actionlint",
    "main",
]

ACTIONLINT_MODULE = "github.com/rhysd/actionlint"
ACTIONLINT_PKG = f"{ACTIONLINT_MODULE}/cmd/actionlint"
MODULE_DIR = Path(__file__).resolve().parent / "actionlint"
_REQUIRE = re.compile(r"^\s*(?:require\s+)?github\.com/rhysd/actionlint\s+(v\d+\.\d+\.\d+)\b", re.M)


def actionlint_version(gomod: Path) -> str:
    """The actionlint release ``gomod`` requires, e.g. "v1.7.12"."""
    match = _REQUIRE.search(gomod.read_text(encoding="utf-8"))
    if match is None:
        raise BuildError(f"{gomod} does not require {ACTIONLINT_MODULE} at a vX.Y.Z version")
    return match.group(1)


def actionlint_path(cache_dir: Path, module_dir: Path = MODULE_DIR) -> Path:
    """Where the build of the pinned version lives in the cache (it may not exist yet)."""
    key = inputs_hash([module_dir / "go.mod", module_dir / "go.sum"], module_dir)
    return cache_dir / "bin" / f"actionlint-{key}"


def find_actionlint(cache_dir: Path, module_dir: Path = MODULE_DIR) -> Path | None:
    """The cached build of the pinned version, or None when it has not been built."""
    path = actionlint_path(cache_dir, module_dir)
    return path if path.is_file() else None


def ensure_actionlint(
    cache_dir: Path,
    log_dir: Path,
    *,
    module_dir: Path = MODULE_DIR,
    run_go: GoRunner = go_runner,
) -> BuildResult:
    """Build the pinned actionlint into the cache unless it is there already.

    The binary reports the pinned version (``actionlint -version``), stamped as actionlint's
    own release build does; ``run_go`` runs ``go`` (a test passes a fake one).
    """
    output = actionlint_path(cache_dir, module_dir)
    if output.is_file():
        return BuildResult("actionlint", output, built=False, seconds=0.0)
    version = actionlint_version(module_dir / "go.mod")
    output.parent.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    started = time.monotonic()
    run_go(
        [
            "build",
            "-ldflags",
            f"-s -w -X {ACTIONLINT_MODULE}.version={version}",
            "-o",
            str(partial),
            ACTIONLINT_PKG,
        ],
        module_dir,
        log_dir / "build-actionlint.log",
        f"actionlint {version}",
    )
    partial.rename(output)
    return BuildResult("actionlint", output, built=True, seconds=time.monotonic() - started)


def main() -> int:
    """Build (or find) actionlint in the build cache of this environment; print its path."""
    layout = StackLayout.from_os_env()
    try:
        result = ensure_actionlint(layout.cache_dir, layout.log_dir)
    except BuildError as exc:
        sys.stderr.write(f"build_actionlint: error: {exc}\n")
        return 1
    if result.built:
        print(f"build actionlint: built in {result.seconds:.0f} s -> {result.output}")
    else:
        print(f"build actionlint: up to date ({result.output})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
