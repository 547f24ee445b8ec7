"""Build (or find in the cache) what only the Kubernetes stack (``stack up --k8s``) runs.

kube-apiserver, kube-controller-manager, kube-scheduler and kubectl as one binary dispatching
on its name, from the kubernetes version pinned in ``refstack/control-plane/go.mod``; etcd from
``refstack/control-plane/etcd/go.mod``; Prometheus with Kubernetes service discovery from
``refstack/prometheus-build/go.mod`` (Debian's Prometheus has none). Never part of
``ensure_builds``; cached by the hash of their inputs like the plain stack's builds.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from refstack.launcher.builds import BuildError, BuildResult, GoRunner, inputs_hash, run_go
from refstack.launcher.layout import StackLayout

__all__ = ["K8sBuildOutputs", "ensure_k8s_builds"]

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
    key = inputs_hash(inputs, src)
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
    key = inputs_hash([src / "go.mod", src / "go.sum", *src.glob("*.go")], src)
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
        key = inputs_hash([src / "go.mod", src / "go.sum"], src)
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


def ensure_k8s_builds(
    layout: StackLayout,
    *,
    report: Callable[[str], None] = lambda _msg: None,
    run_go: GoRunner = run_go,
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
