"""Build (or find in the cache) what the local stack runs that is not a Debian package.

- Jaeger v2: ``go build`` of ``cmd/jaeger`` from the module pinned in ``refstack/jaeger/go.mod``;
- the OpenSearch node: ``mvn package`` of the launcher in ``refstack/opensearch/``;
- for the Kubernetes stack only (``ensure_k8s_builds``, never part of ``ensure_builds``):
  kube-apiserver, kube-controller-manager, kube-scheduler and kubectl as one binary
  dispatching on its name, from the kubernetes version pinned in
  ``refstack/control-plane/go.mod``, etcd from ``refstack/control-plane/etcd/go.mod``, and
  Prometheus with Kubernetes service discovery from ``refstack/prometheus-build/go.mod``
  (Debian's Prometheus has none).

Each output lives in the build cache under a name carrying the hash of its inputs, so a build
runs only when its inputs changed, whatever the files' mtimes (a fresh clone reuses the cache).
Debian packages are checked for, not installed: ``scripts/bootstrap`` installs them.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from refstack.launcher.layout import StackLayout

__all__ = [
    "BuildError",
    "BuildOutputs",
    "BuildResult",
    "GoRunner",
    "K8sBuildOutputs",
    "ensure_builds",
    "ensure_k8s_builds",
    "find_system_binaries",
]

JAEGER_MODULE_PKG = "github.com/jaegertracing/jaeger/cmd/jaeger"
# Prometheus with Kubernetes service discovery, for `stack up --k8s`: Debian's prometheus
# package is built without it ("field kubernetes_sd_configs not found"). The build tags keep
# only the kubernetes discovery plugin (plus file/http, always in), as Prometheus' own
# plugins/ directory provides for.
PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
PROMETHEUS_BUILD_TAGS = "remove_all_sd,enable_kubernetes_sd"
# refstack/control-plane: one binary for the three control-plane commands, run through symlinks
# named after them (it dispatches on argv[0]); its main package, relative to the module
K8S_CONTROL_PLANE = "kube-control-plane"
K8S_CONTROL_PLANE_PKG = "./cmd/kube-control-plane"
K8S_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
# where kubernetes' own build (hack/lib/version.sh) stamps the version the binaries report
_K8S_VERSION_PKGS = ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
_K8S_REQUIRE = re.compile(r"^\s*(?:require\s+)?k8s\.io/kubernetes\s+(v1\.(\d+)\.\d+\S*)\s*$", re.M)
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
    opensearch_dir: Path
    results: tuple[BuildResult, ...]


@dataclass(frozen=True)
class K8sBuildOutputs:
    """etcd, the control plane (the kube-* and kubectl paths are symlinks to one binary) and
    Prometheus with Kubernetes service discovery."""

    etcd_binary: Path
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    kubectl: Path
    prometheus: Path
    promtool: Path  # the same release's promtool (checks configs with kubernetes_sd_configs)
    results: tuple[BuildResult, ...]


class GoRunner(Protocol):
    """Runs ``go <args>`` in ``cwd``, output to ``log``; raises BuildError when it fails."""

    def __call__(self, args: list[str], cwd: Path, log: Path, what: str) -> None: ...


def _inputs_hash(files: Iterable[Path], root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def _run_logged(cmd: list[str], cwd: Path, log: Path, what: str) -> None:
    with log.open("w") as out:
        proc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        raise BuildError(
            f"building {what} failed (exit {proc.returncode}, `{' '.join(cmd)}` in {cwd}); "
            f"full log: {log}; last lines: {' | '.join(tail)}"
        )


def _require_tool(name: str, hint: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BuildError(f"{name!r} is not on PATH; {hint}")
    return found


def _run_go(args: list[str], cwd: Path, log: Path, what: str) -> None:
    go = _require_tool("go", "install Go (the README's bootstrap expects it on the machine)")
    _run_logged([go, *args], cwd, log, what)


def _build_jaeger(layout: StackLayout, log_dir: Path) -> BuildResult:
    src = layout.refstack_src / "jaeger"
    key = _inputs_hash([src / "go.mod", src / "go.sum"], src)
    output = layout.cache_dir / "bin" / f"jaeger-{key}"
    if output.is_file():
        return BuildResult("jaeger", output, built=False, seconds=0.0)
    go = _require_tool("go", "install Go (the README's bootstrap expects it on the machine)")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    started = time.monotonic()
    _run_logged(
        [go, "build", "-o", str(partial), JAEGER_MODULE_PKG],
        src,
        log_dir / "build-jaeger.log",
        "jaeger",
    )
    partial.rename(output)
    return BuildResult("jaeger", output, built=True, seconds=time.monotonic() - started)


def _build_opensearch(layout: StackLayout, log_dir: Path) -> BuildResult:
    src = layout.refstack_src / "opensearch"
    inputs = [src / "pom.xml", *(p for p in (src / "src").rglob("*") if p.is_file())]
    key = _inputs_hash(inputs, src)
    output = layout.cache_dir / f"opensearch-{key}"
    if (output / "chaosgate-opensearch.jar").is_file():
        return BuildResult("opensearch", output, built=False, seconds=0.0)
    mvn = _require_tool("mvn", "install Maven (apt-get install maven)")
    started = time.monotonic()
    _run_logged(
        [mvn, "-q", "-B", "-DskipTests", "package"],
        src,
        log_dir / "build-opensearch.log",
        "the OpenSearch launcher",
    )
    target = src / "target"
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copy2(target / "chaosgate-opensearch.jar", partial / "chaosgate-opensearch.jar")
    shutil.copytree(target / "lib", partial / "lib")
    partial.rename(output)
    return BuildResult("opensearch", output, built=True, seconds=time.monotonic() - started)


def _kubernetes_version(gomod: Path) -> tuple[str, str]:
    """(version, minor) of k8s.io/kubernetes that ``gomod`` requires, e.g. ("v1.37.2", "37")."""
    match = _K8S_REQUIRE.search(gomod.read_text())
    if match is None:
        raise BuildError(f"{gomod} does not require k8s.io/kubernetes at a v1.x.y version")
    return match.group(1), match.group(2)


def _k8s_ldflags(version: str, minor: str) -> str:
    """Strip symbols (as kubernetes' release build does) and stamp the version it reports."""
    flags = ["-s", "-w"]
    for pkg in _K8S_VERSION_PKGS:
        for name, value in (("gitVersion", version), ("gitMajor", "1"), ("gitMinor", minor)):
            flags += ["-X", f"{pkg}.{name}={value}"]
    return " ".join(flags)


def _build_k8s_control_plane(layout: StackLayout, log_dir: Path, run: GoRunner) -> BuildResult:
    src = layout.refstack_src / "control-plane"
    inputs = [src / "go.mod", src / "go.sum", *(p for p in (src / "cmd").rglob("*") if p.is_file())]
    key = _inputs_hash(inputs, src)
    output = layout.cache_dir / f"k8s-{key}"
    if all((output / name).is_file() for name in (K8S_CONTROL_PLANE, *K8S_COMMANDS)):
        return BuildResult("k8s", output, built=False, seconds=0.0)
    version, minor = _kubernetes_version(src / "go.mod")
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    started = time.monotonic()
    run(
        [
            "build",
            "-ldflags",
            _k8s_ldflags(version, minor),
            "-o",
            str(partial / K8S_CONTROL_PLANE),
            K8S_CONTROL_PLANE_PKG,
        ],
        src,
        log_dir / "build-k8s.log",
        f"the Kubernetes {version} control plane",
    )
    for name in K8S_COMMANDS:
        (partial / name).symlink_to(K8S_CONTROL_PLANE)
    shutil.rmtree(output, ignore_errors=True)  # an incomplete earlier output
    partial.rename(output)
    return BuildResult("k8s", output, built=True, seconds=time.monotonic() - started)


def _build_etcd(layout: StackLayout, log_dir: Path, run: GoRunner) -> BuildResult:
    src = layout.refstack_src / "control-plane" / "etcd"
    key = _inputs_hash([src / "go.mod", src / "go.sum", *src.glob("*.go")], src)
    output = layout.cache_dir / "bin" / f"etcd-{key}"
    if output.is_file():
        return BuildResult("etcd", output, built=False, seconds=0.0)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_suffix(".partial")
    started = time.monotonic()
    run(
        ["build", "-ldflags", "-s -w", "-o", str(partial), "."],
        src,
        log_dir / "build-etcd.log",
        "etcd",
    )
    partial.rename(output)
    return BuildResult("etcd", output, built=True, seconds=time.monotonic() - started)


_PROMETHEUS_REQUIRE = re.compile(
    r"^\s*(?:require\s+)?github\.com/prometheus/prometheus\s+v0\.(\d+)\.(\d+)\b", re.M
)


def _prometheus_ldflags(gomod: Path) -> str:
    """Strip symbols and stamp the version ``prometheus --version`` reports, as Prometheus'
    own build does; its Go module v0.MMmm.p is release MM.mm.p (v0.316.0 is 3.16.0)."""
    match = _PROMETHEUS_REQUIRE.search(gomod.read_text())
    if match is None:
        raise BuildError(f"{gomod} does not require github.com/prometheus/prometheus v0.x.y")
    number, patch = int(match.group(1)), match.group(2)
    version = f"{number // 100}.{number % 100}.{patch}"
    pkg = "github.com/prometheus/common/version"
    return f"-s -w -X {pkg}.Version={version} -X {pkg}.Revision=v0.{number}.{patch}"


def _build_prometheus_command(command: str) -> Callable[[StackLayout, Path, GoRunner], BuildResult]:
    """A build step for ``cmd/<command>`` of the Prometheus module (prometheus or promtool)."""

    def build(layout: StackLayout, log_dir: Path, run: GoRunner) -> BuildResult:
        src = layout.refstack_src / "prometheus-build"
        key = _inputs_hash([src / "go.mod", src / "go.sum"], src)
        output = layout.cache_dir / "bin" / f"{command}-{key}"
        if output.is_file():
            return BuildResult(command, output, built=False, seconds=0.0)
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_suffix(".partial")
        started = time.monotonic()
        run(
            [
                "build",
                "-tags",
                PROMETHEUS_BUILD_TAGS,
                "-ldflags",
                _prometheus_ldflags(src / "go.mod"),
                "-o",
                str(partial),
                f"{PROMETHEUS_MODULE}/cmd/{command}",
            ],
            src,
            log_dir / f"build-{command}.log",
            f"{command} (Prometheus with Kubernetes service discovery)",
        )
        partial.rename(output)
        return BuildResult(command, output, built=True, seconds=time.monotonic() - started)

    return build


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
    layout: StackLayout, *, report: Callable[[str], None] = lambda _msg: None
) -> BuildOutputs:
    """Build what is missing from the cache; ``report`` hears one line per part."""
    layout.ensure_dirs()
    results: list[BuildResult] = []
    for part, build in (("jaeger", _build_jaeger), ("opensearch", _build_opensearch)):
        report(f"build {part}: checking cache")
        result = build(layout, layout.log_dir)
        results.append(result)
        if result.built:
            report(f"build {part}: built in {result.seconds:.0f} s -> {result.output}")
        else:
            report(f"build {part}: up to date ({result.output})")
    return BuildOutputs(
        jaeger_binary=results[0].output,
        opensearch_dir=results[1].output,
        results=tuple(results),
    )


def ensure_k8s_builds(
    layout: StackLayout,
    *,
    report: Callable[[str], None] = lambda _msg: None,
    run_go: GoRunner = _run_go,
) -> K8sBuildOutputs:
    """Build etcd and the Kubernetes control plane unless cached (not part of ``ensure_builds``).

    ``report`` hears one line per part; ``run_go`` runs the ``go`` commands (a test passes a
    fake one).
    """
    layout.ensure_dirs()
    results: list[BuildResult] = []
    steps = (
        ("etcd", _build_etcd),
        ("k8s", _build_k8s_control_plane),
        ("prometheus", _build_prometheus_command("prometheus")),
        ("promtool", _build_prometheus_command("promtool")),
    )
    for part, build in steps:
        report(f"build {part}: checking cache")
        result = build(layout, layout.log_dir, run_go)
        results.append(result)
        if result.built:
            report(f"build {part}: built in {result.seconds:.0f} s -> {result.output}")
        else:
            report(f"build {part}: up to date ({result.output})")
    etcd, control_plane, prometheus, promtool = results
    return K8sBuildOutputs(
        etcd_binary=etcd.output,
        kube_apiserver=control_plane.output / "kube-apiserver",
        kube_controller_manager=control_plane.output / "kube-controller-manager",
        kube_scheduler=control_plane.output / "kube-scheduler",
        kubectl=control_plane.output / "kubectl",
        prometheus=prometheus.output,
        promtool=promtool.output,
        results=tuple(results),
    )
