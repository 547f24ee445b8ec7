"""The cached Kubernetes builds, with a fake ``go`` runner: no Go needed."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from refstack.launcher.builds import BuildError, run_logged
from refstack.launcher.k8s_builds import K8S_COMMANDS, K8S_CONTROL_PLANE, ensure_k8s_builds
from refstack.launcher.layout import StackLayout

REPO_ROOT = Path(__file__).resolve().parents[3]
K8S_GOMOD = """module chaosgate.local/stack/k8s

go 1.26.0

require (
\tgithub.com/spf13/cobra v1.10.2
\tk8s.io/kubernetes v1.37.2
)
"""


class FakeGo:
    """Records each ``go`` call and writes the ``-o`` output as ``go build`` would."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[list[str], Path]] = []
        self.fail = fail

    def __call__(self, args: list[str], cwd: Path, log: Path, what: str) -> None:
        self.calls.append((args, cwd))
        log.write_text("go build output\n")
        if self.fail:
            raise BuildError(f"building {what} failed")
        out = Path(args[args.index("-o") + 1])
        out.write_text(f"binary built in {cwd.name}\n")


class NoGo:
    def __call__(self, args: list[str], cwd: Path, log: Path, what: str) -> None:
        raise AssertionError(f"go {args} ran although {what} is cached")


@pytest.fixture
def layout(tmp_path: Path) -> StackLayout:
    k8s = tmp_path / "repo" / "refstack" / "control-plane"
    (k8s / "cmd" / K8S_CONTROL_PLANE).mkdir(parents=True)
    (k8s / "etcd").mkdir()
    (k8s / "go.mod").write_text(K8S_GOMOD)
    (k8s / "go.sum").write_text("k8s.io/kubernetes v1.37.2 h1:x=\n")
    (k8s / "cmd" / K8S_CONTROL_PLANE / "main.go").write_text("package main\n")
    (k8s / "README.md").write_text("not an input\n")
    (k8s / "etcd" / "go.mod").write_text(
        "module etcd\n\nrequire go.etcd.io/etcd/server/v3 v3.6.16\n"
    )
    (k8s / "etcd" / "go.sum").write_text("")
    (k8s / "etcd" / "main.go").write_text("package main\n")
    prometheus = tmp_path / "repo" / "refstack" / "prometheus-build"
    prometheus.mkdir()
    (prometheus / "go.mod").write_text(
        "module p\n\ntool github.com/prometheus/prometheus/cmd/prometheus\n\n"
        "require github.com/prometheus/prometheus v0.316.0 // indirect\n"
    )
    (prometheus / "go.sum").write_text("")
    return StackLayout(
        repo_root=tmp_path / "repo", cache_dir=tmp_path / "cache", state_dir=tmp_path / "state"
    )


def test_builds_all_then_reuses_the_cache_without_running_go(layout: StackLayout) -> None:
    go = FakeGo()
    first = ensure_k8s_builds(layout, run_go=go)
    assert [r.built for r in first.results] == [True, True, True, True]
    assert [cwd for _args, cwd in go.calls] == [
        layout.refstack_src / "control-plane" / "etcd",
        layout.refstack_src / "control-plane",
        layout.refstack_src / "prometheus-build",
        layout.refstack_src / "prometheus-build",
    ]
    assert first.prometheus.read_text() == "binary built in prometheus-build\n"
    assert first.promtool.name.startswith("promtool-")
    assert first.etcd_binary.read_text() == "binary built in etcd\n"
    commands = (first.kube_apiserver, first.kube_controller_manager, first.kube_scheduler)
    for command in (*commands, first.kubectl):
        assert command.is_symlink()
        assert command.name in K8S_COMMANDS
        assert command.resolve() == command.parent / K8S_CONTROL_PLANE
        assert command.read_text() == "binary built in control-plane\n"
    assert not list(layout.cache_dir.rglob("*.partial"))

    heard: list[str] = []
    again = ensure_k8s_builds(layout, report=heard.append, run_go=NoGo())
    assert [r.built for r in again.results] == [False, False, False, False]
    assert (again.etcd_binary, again.kube_apiserver) == (first.etcd_binary, first.kube_apiserver)
    assert f"build k8s: up to date ({first.kube_apiserver.parent})" in heard
    assert heard[-1] == f"build promtool: up to date ({first.promtool})"


def test_prometheus_is_built_with_only_kubernetes_discovery(layout: StackLayout) -> None:
    go = FakeGo()
    ensure_k8s_builds(layout, run_go=go)
    for call, command in ((2, "prometheus"), (3, "promtool")):
        args, _cwd = go.calls[call]
        assert args[args.index("-tags") + 1] == "remove_all_sd,enable_kubernetes_sd"
        assert args[-1] == f"github.com/prometheus/prometheus/cmd/{command}"
    ldflags = args[args.index("-ldflags") + 1]
    assert "-X github.com/prometheus/common/version.Version=3.16.0" in ldflags


def test_control_plane_build_stamps_the_pinned_version(layout: StackLayout) -> None:
    go = FakeGo()
    ensure_k8s_builds(layout, run_go=go)
    args, _cwd = go.calls[1]
    assert args[0] == "build"
    assert args[-1] == f"./cmd/{K8S_CONTROL_PLANE}"
    ldflags = args[args.index("-ldflags") + 1]
    assert "-X k8s.io/component-base/version.gitVersion=v1.37.2" in ldflags
    assert "-X k8s.io/client-go/pkg/version.gitMinor=37" in ldflags


@pytest.mark.parametrize(
    ("changed", "rebuilt"),
    [
        ("go.mod", ["k8s"]),
        ("go.sum", ["k8s"]),
        (f"cmd/{K8S_CONTROL_PLANE}/main.go", ["k8s"]),
        ("etcd/go.mod", ["etcd"]),
        ("etcd/main.go", ["etcd"]),
        ("README.md", []),
    ],
)
def test_an_input_change_rebuilds_only_its_part(
    layout: StackLayout, changed: str, rebuilt: list[str]
) -> None:
    before = ensure_k8s_builds(layout, run_go=FakeGo())
    path = layout.refstack_src / "control-plane" / changed
    path.write_text(path.read_text() + "\n// changed\n")
    go = FakeGo()
    after = ensure_k8s_builds(layout, run_go=go)
    assert [r.part for r in after.results if r.built] == rebuilt
    assert len(go.calls) == len(rebuilt)
    for old, new in zip(before.results, after.results, strict=True):
        assert (old.output != new.output) == (new.part in rebuilt)


def test_a_failed_build_leaves_nothing_cached(layout: StackLayout) -> None:
    with pytest.raises(BuildError, match="etcd"):
        ensure_k8s_builds(layout, run_go=FakeGo(fail=True))
    assert not (layout.cache_dir / "bin").exists() or not any((layout.cache_dir / "bin").iterdir())
    assert ensure_k8s_builds(layout, run_go=FakeGo()).results[0].built


def test_a_go_mod_without_kubernetes_is_refused(layout: StackLayout) -> None:
    (layout.refstack_src / "control-plane" / "go.mod").write_text("module x\n")
    with pytest.raises(BuildError, match=r"does not require k8s.io/kubernetes"):
        ensure_k8s_builds(layout, run_go=FakeGo())


def test_a_failing_command_reports_its_log_tail(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    script = "import sys; print('compiling'); print('undefined: foo'); sys.exit(3)"
    with pytest.raises(BuildError, match=r"exit 3.*undefined: foo") as caught:
        run_logged([sys.executable, "-c", script], tmp_path, log, "thing")
    assert str(log) in str(caught.value)


def test_the_pinned_staging_replaces_match_the_kubernetes_version() -> None:
    """gen-replaces.py's block must be regenerated whenever kubernetes is bumped."""
    gomod = (REPO_ROOT / "refstack" / "control-plane" / "go.mod").read_text()
    match = re.search(r"^\s*k8s\.io/kubernetes v1\.(\d+\.\d+)$", gomod, re.M)
    assert match is not None
    replaces = re.findall(r"^\s*(k8s\.io/\S+) => (\S+) (v\S+)$", gomod, re.M)
    assert len(replaces) > 20
    assert {(name, version) for name, target, version in replaces if name == target} == {
        (name, f"v0.{match.group(1)}") for name, _target, _version in replaces
    }
