"""Build (or find in the cache) what the local stack runs that is not a Debian package.

- Jaeger v2: ``go build`` of ``cmd/jaeger`` from the module pinned in ``refstack/jaeger/go.mod``;
- the store of logs and spans (:mod:`refstack.launcher.stores`): ``mvn package`` of its
  launcher in ``refstack/opensearch/`` or ``refstack/elasticsearch/``;
- what only the Kubernetes stack runs: :mod:`refstack.launcher.k8s_builds`.

Each output lives in the build cache under a name carrying the hash of its inputs, so a build
runs only when its inputs changed, whatever the files' mtimes (a fresh clone reuses the cache).
Debian packages are checked for, not installed: ``scripts/bootstrap`` installs them.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from refstack.launcher.layout import StackLayout
from refstack.launcher.stores import DEFAULT_STORE, LogStore, store_named

__all__ = [
    "BuildError",
    "BuildOutputs",
    "BuildResult",
    "GoRunner",
    "ensure_builds",
    "find_system_binaries",
    "inputs_hash",
    "require_tool",
    "run_go",
    "run_logged",
]

JAEGER_MODULE_PKG = "github.com/jaegertracing/jaeger/cmd/jaeger"
RSYSLOG_MODULE_DIR = Path("/usr/lib/x86_64-linux-gnu/rsyslog")

# binary -> the Debian package that provides it
SYSTEM_BINARIES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "rsyslogd": "rsyslog",
    "java": "openjdk-17-jre-headless",
}


class BuildError(Exception):
    """A build failed or a required program is missing."""


@dataclass(frozen=True)
class BuildResult:
    part: str
    output: Path
    built: bool
    seconds: float


@dataclass(frozen=True)
class BuildOutputs:
    jaeger_binary: Path
    store_dirs: Mapping[str, Path]  # store name -> its build (jar and lib/)
    results: tuple[BuildResult, ...]

    def store_dir(self, store: LogStore) -> Path:
        try:
            return self.store_dirs[store.name]
        except KeyError:
            raise BuildError(f"the {store.product} launcher was not built") from None


class GoRunner(Protocol):
    """Runs ``go <args>`` in ``cwd``, output to ``log``; raises BuildError when it fails."""

    def __call__(self, args: list[str], cwd: Path, log: Path, what: str) -> None: ...


def inputs_hash(files: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def run_logged(cmd: list[str], cwd: Path, log: Path, what: str) -> None:
    with log.open("w") as out:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise BuildError(
            f"building {what} failed (exit {proc.returncode}, `{' '.join(cmd)}` in {cwd}); "
            f"full log: {log}; last lines: {' | '.join(tail)}"
        )


def require_tool(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuildError(f"{name!r} is not on PATH; {hint}")
    return found


def run_go(args: list[str], cwd: Path, log: Path, what: str) -> None:
    go = require_tool("go", "install Go (the README's bootstrap expects it on the machine)")
    run_logged([go, *args], cwd, log, what)


def _build_jaeger(layout: StackLayout, log_dir: Path) -> BuildResult:
    src = layout.refstack_src / "jaeger"
    key = inputs_hash([src / "go.mod", src / "go.sum"], src)
    output = layout.cache_dir / "bin" / f"jaeger-{key}"
    if output.is_file():
        return BuildResult("jaeger", output, built=False, seconds=0.0)
    go = require_tool("go", "install Go (the README's bootstrap expects it on the machine)")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    started = time.monotonic()
    run_logged(
        [go, "build", "-o", str(partial), JAEGER_MODULE_PKG],
        src,
        log_dir / "build-jaeger.log",
        "jaeger",
    )
    partial.rename(output)
    return BuildResult("jaeger", output, built=True, seconds=time.monotonic() - started)


def _build_store(layout: StackLayout, log_dir: Path, store: LogStore) -> BuildResult:
    """``mvn package`` of the store's Java launcher in ``refstack/<store>/``: its jar and lib/."""
    src = layout.refstack_src / store.name
    if not (src / "pom.xml").is_file():
        raise BuildError(
            f"the {store.product} launcher is not in this checkout ({src / 'pom.xml'} is "
            "missing); use the default store (--logs opensearch)"
        )
    # Both launchers' jars also compile refstack/store-node/src (their pom.xml's
    # compileSourceRoots): an edit there rebuilds both. jvm.options is no input: parts.py reads
    # it from refstack/<store>/ at each start, so its edits apply without a build.
    source_trees = (src / "src", layout.refstack_src / "store-node" / "src")
    sources = (path for tree in source_trees for path in tree.rglob("*") if path.is_file())
    inputs = [src / "pom.xml", *sources]
    key = inputs_hash(inputs, layout.refstack_src)
    output = layout.cache_dir / f"{store.name}-{key}"
    if (output / store.jar).is_file():
        return BuildResult(store.name, output, built=False, seconds=0.0)
    mvn = require_tool("mvn", "install Maven (apt-get install maven)")
    started = time.monotonic()
    run_logged(
        [mvn, "-q", "-B", "-DskipTests", "package"],
        src,
        log_dir / f"build-{store.name}.log",
        f"the {store.product} launcher",
    )
    target = src / "target"
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copy2(target / store.jar, partial / store.jar)
    shutil.copytree(target / "lib", partial / "lib")
    partial.rename(output)
    return BuildResult(store.name, output, built=True, seconds=time.monotonic() - started)


def find_system_binaries() -> dict[str, Path]:
    """Paths of the Debian-packaged programs the stack runs; a missing one is an error."""
    found: dict[str, Path] = {}
    missing: list[str] = []
    for binary, package in SYSTEM_BINARIES.items():
        path = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/usr/bin")
        if path is None:
            missing.append(f"{binary} (Debian package {package})")
        else:
            found[binary] = Path(path)
    if not (RSYSLOG_MODULE_DIR / "omelasticsearch.so").is_file():
        missing.append("rsyslog's omelasticsearch module (Debian package rsyslog-elasticsearch)")
    if missing:
        raise BuildError(
            f"missing programs: {', '.join(missing)}; run scripts/bootstrap to install them"
        )
    return found


def ensure_builds(
    layout: StackLayout,
    *,
    stores: Sequence[LogStore] = (DEFAULT_STORE,),
    report: Callable[[str], None] = lambda _msg: None,
) -> BuildOutputs:
    """Build Jaeger and ``stores`` where the cache lacks them; ``report`` hears one line a part."""
    layout.ensure_dirs()
    results: list[BuildResult] = []
    for part in ("jaeger", *(store.name for store in stores)):
        report(f"build {part}: checking cache")
        if part == "jaeger":
            result = _build_jaeger(layout, layout.log_dir)
        else:
            result = _build_store(layout, layout.log_dir, store_named(part))
        results.append(result)
        if result.built:
            report(f"build {part}: built in {result.seconds:.0f} s -> {result.output}")
        else:
            report(f"build {part}: up to date ({result.output})")
    return BuildOutputs(
        jaeger_binary=results[0].output,
        store_dirs={result.part: result.output for result in results[1:]},
        results=tuple(results),
    )
