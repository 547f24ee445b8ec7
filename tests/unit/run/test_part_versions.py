"""The versions a run records: chaosgate's (package metadata, git), the parts' (their APIs).

git runs for real on repositories made here; the backends are the real classes built by
``build_backends`` over transports that answer as the parts do; the Kubernetes API server is
a local HTTP server reached through a kubeconfig, as chaosk8s reaches a cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from pytest_httpserver import HTTPServer

from assertions.backends.build_info import BuildInfo
from assertions.backends.errors import BackendError
from assertions.checks.warmup import WarmupBackends
from chaosgate.run.backends import build_backends
from chaosgate.run.part_versions import (
    ChaosgateBuild,
    chaosgate_build,
    collect_versions,
    git_revision,
    kubernetes_version,
    read_kubernetes_version,
    read_part_versions,
)
from chaosgate.target import KubernetesConfig, Target
from tests.unit.assertions.support import RequestsTransport
from tests.unit.chaos.fake_k8s import FakeKube

REPO_ROOT = Path(__file__).resolve().parents[3]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.test",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.test",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "my checkout"  # a space in the path, as any user folder may have
    (root / "chaosgate").mkdir(parents=True)
    (root / "chaosgate" / "__init__.py").write_text("")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_a_checkout_s_revision_and_cleanliness(repo: Path) -> None:
    assert git_revision(repo) == (git(repo, "rev-parse", "HEAD"), False)
    (repo / "chaosgate" / "__init__.py").write_text("changed = True\n")
    assert git_revision(repo) == (git(repo, "rev-parse", "HEAD"), True)


def test_an_untracked_file_does_not_make_the_checkout_dirty(repo: Path) -> None:
    (repo / "notes.txt").write_text("scratch")
    assert git_revision(repo)[1] is False


def test_a_package_inside_someone_else_s_repository_has_no_revision(repo: Path) -> None:
    # e.g. chaosgate installed into a virtualenv that lives inside another project's checkout
    inner = repo / "venv" / "site-packages"
    inner.mkdir(parents=True)
    assert git_revision(inner) == (None, None)


def test_no_repository_no_git_or_a_hanging_git_is_no_revision(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert git_revision(plain) == (None, None)
    assert git_revision(REPO_ROOT, git=str(tmp_path / "no-such-git")) == (None, None)
    slow = tmp_path / "slow-git"
    slow.write_text("#!/bin/sh\nexec sleep 5\n")
    slow.chmod(0o755)
    assert git_revision(REPO_ROOT, git=str(slow), timeout_s=0.2) == (None, None)


def test_chaosgate_s_version_is_its_package_metadata(repo: Path) -> None:
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    build = chaosgate_build(repo)
    assert build == ChaosgateBuild(declared, git(repo, "rev-parse", "HEAD"), False)
    assert chaosgate_build(repo, distribution="no-such-distribution-xyz").version is None
    assert build.as_json() == {
        "version": declared,
        "git_revision": build.git_revision,
        "git_dirty": False,
    }


PROMETHEUS_BUILDINFO = {"status": "success", "data": {"version": "3.16.0", "revision": "v0.316.0"}}
AM_STATUS = {"versionInfo": {"version": "0.25.0", "revision": "0.25.0-1+b4"}}
OPENSEARCH = {"version": {"distribution": "opensearch", "number": "2.19.6"}}
JAEGER_PAGE = 'JAEGER_VERSION = {"gitCommit":"","gitVersion":"","buildDate":""};'


def healthy(request: httpx.Request) -> httpx.Response:
    if request.url.port == 16686:
        return httpx.Response(200, text=JAEGER_PAGE)
    if request.url.port == 9093:
        return httpx.Response(200, json=AM_STATUS)
    if request.url.port == 9200:
        return httpx.Response(200, json=OPENSEARCH)
    raise AssertionError(request.url)


def backends_for(
    target: Target, handler: Any, prometheus: Any = lambda r: (200, PROMETHEUS_BUILDINFO)
) -> WarmupBackends:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    session = requests.Session()
    backends = build_backends(target, http, http, session)
    session.mount(target.prometheus.url, RequestsTransport(prometheus))
    return backends


def target_on(kubeconfig: Path | None = None) -> Target:
    hosts = {
        "jaeger": {"query_url": "http://jaeger.test:16686"},
        "prometheus": {"url": "http://prometheus.test:9090"},
        "alertmanager": {"url": "http://am.test:9093"},
        "elasticsearch": {"url": "http://es.test:9200"},
    }
    if kubeconfig is None:
        return Target.model_validate({**hosts, "chaos": "local"})
    return Target.model_validate(
        {**hosts, "chaos": "kubernetes", "kubernetes": {"kubeconfig": str(kubeconfig)}}
    )


def test_every_part_of_a_local_target_is_read_and_no_cluster_is_asked() -> None:
    target = target_on()
    versions = read_part_versions(backends_for(target, healthy), target)
    assert list(versions) == ["jaeger", "prometheus", "alertmanager", "elasticsearch"]
    assert versions["prometheus"]["version"] == "3.16.0"
    assert versions["alertmanager"]["version"] == "0.25.0"
    assert versions["elasticsearch"]["details"] == {"distribution": "opensearch"}
    assert versions["jaeger"]["version"] is None  # what the local stack's go build reports
    assert "-ldflags" in versions["jaeger"]["details"]["note"]


def test_a_part_that_fails_is_an_error_for_that_part_only() -> None:
    def alertmanager_down(request: httpx.Request) -> httpx.Response:
        if request.url.port == 9093:
            raise httpx.ConnectError("connection refused", request=request)
        return healthy(request)

    target = target_on()
    versions = read_part_versions(
        backends_for(target, alertmanager_down, prometheus=lambda r: (503, b"down")), target
    )
    assert versions["alertmanager"] == {
        "error": "alertmanager at http://am.test:9093/api/v2/status: "
        "ConnectError: connection refused"
    }
    assert versions["prometheus"]["error"].startswith(
        "prometheus at http://prometheus.test:9090/api/v1/status/buildinfo: HTTP 503"
    )
    assert versions["elasticsearch"]["version"] == "2.19.6"


def test_an_unexpected_exception_is_evidence_too_never_raised() -> None:
    def broken() -> BuildInfo:
        raise RuntimeError("a bug in a reader")

    assert collect_versions({"x": broken}) == {
        "x": {"error": "unexpected RuntimeError: a bug in a reader"}
    }


def test_the_parts_are_read_at_the_same_time() -> None:
    # each reader waits for the other: read one after the other, both would break the barrier
    barrier = threading.Barrier(2, timeout=5)

    def reader(name: str) -> Any:
        def read() -> BuildInfo:
            barrier.wait()
            return BuildInfo(version=name, endpoint=name)

        return read

    versions = collect_versions({"a": reader("1"), "b": reader("2")})
    assert {name: info["version"] for name, info in versions.items()} == {"a": "1", "b": "2"}
    assert collect_versions({}) == {}


K8S_VERSION = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.2",
    "gitCommit": "0f1e2d3c4b5a69788796a5b4c3d2e1f0a9b8c7d6",
    "gitTreeState": "clean",
    "buildDate": "2026-11-20T10:00:00Z",
    "goVersion": "go1.25.4",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def kubeconfig_for(path: Path, server: str) -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "runner-token"}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    path.write_text(json.dumps(config))
    return path


def test_a_cluster_s_version_is_read_through_the_target_s_kubeconfig(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/version/").respond_with_json(K8S_VERSION)
    kubeconfig = kubeconfig_for(tmp_path / "kubeconfig", httpserver.url_for("").rstrip("/"))
    target = target_on(kubeconfig)
    environment = dict(os.environ)
    versions = read_part_versions(backends_for(target, healthy), target)
    assert dict(os.environ) == environment  # the cluster's variables were put back
    assert versions["kubernetes"] == {
        "version": "v1.37.2",
        "revision": K8S_VERSION["gitCommit"],
        "build_date": "2026-11-20T10:00:00Z",
        "details": {
            "platform": "linux/amd64",
            "go_version": "go1.25.4",
            "git_tree_state": "clean",
        },
        "endpoint": httpserver.url_for("/version/"),
    }
    (request, _), *_ = httpserver.log
    assert request.headers["Authorization"] == "Bearer runner-token"


def test_a_cluster_that_refuses_or_is_missing_is_an_error(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/version/").respond_with_json(
        {"kind": "Status", "message": "forbidden: User cannot get path /version"}, status=403
    )
    config = KubernetesConfig(
        kubeconfig=str(kubeconfig_for(tmp_path / "k", httpserver.url_for("")))
    )
    with pytest.raises(
        BackendError, match=r"kubernetes at .*/version/: 403 forbidden: User cannot"
    ):
        read_kubernetes_version(config)
    missing = target_on(tmp_path / "no-such-kubeconfig")
    versions = read_part_versions(backends_for(missing, healthy), missing)
    assert versions["kubernetes"]["error"].startswith("kubernetes at ")
    assert "no-such-kubeconfig' does not exist" in versions["kubernetes"]["error"]


def test_an_api_server_answer_without_a_version_is_malformed() -> None:
    class VersionlessKube(FakeKube):
        def _route(self, method: str, path: str, query: Any, payload: Any) -> tuple[int, Any]:
            return (
                (200, {"major": "1"})
                if path == "/version/"
                else super()._route(method, path, query, payload)
            )

    with pytest.raises(BackendError, match=r"kubernetes at http://k8s\.test/version/: malformed"):
        kubernetes_version(VersionlessKube().client())
