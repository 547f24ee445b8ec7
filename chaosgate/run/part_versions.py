"""Which versions a run ran against: chaosgate's own, and each part of the stack's as its API
reports it.

The parts are read through their backends' ``version()`` (Jaeger, Prometheus, Alertmanager,
Elasticsearch / OpenSearch: :class:`~assertions.backends.build_info.BuildInfo`) and, when the
target has a cluster (``chaos: kubernetes``), the Kubernetes API server's ``/version`` through
the same client chaosk8s uses. :func:`read_part_versions` reads them all at once, in threads,
so the whole read takes no longer than the slowest client's timeout, and turns every failure
into ``{"error": "..."}`` for that part: the versions are evidence, never a reason to fail a
run.

chaosgate's own version is its package metadata's; its git revision is that of the checkout
its package was imported from, when that directory is the top of a git work tree (``git
rev-parse`` with a short timeout; None otherwise, never an exception), with whether tracked
files differ from that revision (``git_dirty``).
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import urllib3
from chaosk8s import create_k8s_api_client
from kubernetes import client
from kubernetes.client import ApiException
from kubernetes.config import ConfigException

from assertions.backends.build_info import BuildInfo, details_of, text_or_none
from assertions.backends.errors import BackendError
from assertions.checks.warmup import WarmupBackends
from chaosgate.chaos.k8s_api import api_reason
from chaosgate.chaos.k8s_env import KubeconfigMissingError, kubernetes_environment
from chaosgate.target import KubernetesConfig, Target

__all__ = [
    "CHECKOUT_ROOT",
    "ChaosgateBuild",
    "chaosgate_build",
    "collect_versions",
    "git_revision",
    "kubernetes_version",
    "read_kubernetes_version",
    "read_part_versions",
]

CHECKOUT_ROOT = Path(__file__).resolve().parents[2]
"""The directory chaosgate's package was imported from (a checkout, or site-packages)."""
GIT_TIMEOUT_S = 2.0
KUBERNETES_TIMEOUT_S = 10.0
KUBERNETES = "kubernetes"

VersionReader = Callable[[], BuildInfo]


@dataclass(frozen=True)
class ChaosgateBuild:
    """The chaosgate that ran: its package version and, from a git checkout, its revision
    and whether tracked files differed from it (None: not known)."""

    version: str | None
    git_revision: str | None
    git_dirty: bool | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _git(root: Path, args: list[str], git: str, timeout_s: float) -> str | None:
    """``git -C root ARGS``'s output, or None when git is missing, fails or is too slow."""
    try:
        done = subprocess.run(
            [git, "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_revision(
    root: Path = CHECKOUT_ROOT, *, git: str = "git", timeout_s: float = GIT_TIMEOUT_S
) -> tuple[str | None, bool | None]:
    """(HEAD's commit, whether tracked files differ from it) of the work tree whose top is
    ``root``; (None, None) when ``root`` is no such top (an installed package inside some
    other repository is not that repository's code), or git is missing, fails or takes longer
    than ``timeout_s``."""
    out = _git(root, ["rev-parse", "--show-toplevel", "HEAD"], git, timeout_s)
    lines = out.splitlines() if out is not None else []
    if len(lines) != 2:
        return None, None
    top, revision = lines
    try:
        same = Path(top).resolve() == root.resolve()
    except OSError:
        return None, None
    if not same or len(revision) not in (40, 64):
        return None, None
    status = _git(root, ["status", "--porcelain", "--untracked-files=no"], git, timeout_s)
    return revision, (None if status is None else bool(status.strip()))


def chaosgate_build(
    root: Path = CHECKOUT_ROOT,
    *,
    distribution: str = "chaosgate",
    git: str = "git",
    timeout_s: float = GIT_TIMEOUT_S,
) -> ChaosgateBuild:
    """chaosgate's package version (None when not installed as a distribution) and the git
    revision of ``root`` (see :func:`git_revision`)."""
    try:
        version: str | None = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = None
    revision, dirty = git_revision(root, git=git, timeout_s=timeout_s)
    return ChaosgateBuild(version=version, git_revision=revision, git_dirty=dirty)


def kubernetes_version(
    api: client.ApiClient, *, timeout_s: float = KUBERNETES_TIMEOUT_S
) -> BuildInfo:
    """The API server's ``/version`` through ``api``; BackendError naming the server when it
    cannot be read."""
    url = f"{str(api.configuration.host).rstrip('/')}/version/"  # the client's own path
    try:
        info = client.VersionApi(api).get_code(_request_timeout=timeout_s)
    except ApiException as exc:
        raise BackendError(KUBERNETES, url, api_reason(exc), status=exc.status) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise BackendError(KUBERNETES, url, f"{type(exc).__name__}: {exc}"[:300]) from exc
    except (ValueError, TypeError) as exc:  # the client's parsing of a wrongly shaped answer
        raise BackendError(
            KUBERNETES, url, f"malformed answer: {type(exc).__name__}: {exc}"[:300]
        ) from exc
    version = text_or_none(info.git_version)
    if version is None:
        raise BackendError(KUBERNETES, url, "malformed answer: no 'gitVersion'")
    return BuildInfo(
        version=version,
        endpoint=url,
        revision=text_or_none(info.git_commit),
        build_date=text_or_none(info.build_date),
        details=details_of(
            {
                "platform": info.platform,
                "go_version": info.go_version,
                "git_tree_state": info.git_tree_state,
            }
        ),
    )


def read_kubernetes_version(
    config: KubernetesConfig, *, timeout_s: float = KUBERNETES_TIMEOUT_S
) -> BuildInfo:
    """The version of the cluster ``config`` names, reached as the experiments reach it
    (:func:`~chaosgate.chaos.k8s_env.kubernetes_environment`, chaosk8s' client); a missing or
    unusable kubeconfig is a BackendError too. That environment is process-wide while the
    client is made: call this outside the chaos phase (the campaign reads versions before
    the load)."""
    where = config.kubeconfig or "$KUBECONFIG / ~/.kube/config / in-cluster"
    try:
        with kubernetes_environment(config):
            configuration = copy.deepcopy(create_k8s_api_client(None).configuration)
    except (KubeconfigMissingError, ConfigException, OSError) as exc:
        raise BackendError(KUBERNETES, where, f"{type(exc).__name__}: {exc}"[:300]) from exc
    configuration.retries = 0  # one attempt, bounded by timeout_s, as every backend read
    return kubernetes_version(client.ApiClient(configuration), timeout_s=timeout_s)


def _read(reader: VersionReader) -> dict[str, Any]:
    try:
        return reader().as_json()
    except BackendError as exc:
        return {"error": str(exc)}
    except Exception as exc:  # evidence only: a bug here must not cost the run its verdict
        return {"error": f"unexpected {type(exc).__name__}: {exc}"[:500]}


def collect_versions(readers: Mapping[str, VersionReader]) -> dict[str, dict[str, Any]]:
    """Every reader's :class:`BuildInfo` as JSON, read concurrently, keyed as ``readers``; a
    reader that fails (whatever it raises) gives ``{"error": "<what went wrong>"}``."""
    if not readers:
        return {}
    pool = ThreadPoolExecutor(max_workers=len(readers), thread_name_prefix="part-version")
    try:
        futures = {name: pool.submit(_read, reader) for name, reader in readers.items()}
        return {name: future.result() for name, future in futures.items()}
    finally:
        # an interrupted run does not wait for a hanging read (each is bounded by its client)
        pool.shutdown(wait=False, cancel_futures=True)


def read_part_versions(
    backends: WarmupBackends,
    target: Target,
    *,
    read_kubernetes: Callable[[KubernetesConfig], BuildInfo] = read_kubernetes_version,
) -> dict[str, dict[str, Any]]:
    """The versions of the target's parts: ``jaeger``, ``prometheus``, ``alertmanager``,
    ``elasticsearch`` and, when the target has a cluster, ``kubernetes``; each a
    :meth:`BuildInfo.as_json` or ``{"error": ...}``. Never raises for a part."""
    readers: dict[str, VersionReader] = {
        "jaeger": backends.jaeger.version,
        "prometheus": backends.prometheus.version,
        "alertmanager": backends.alertmanager.version,
        "elasticsearch": backends.elasticsearch.version,
    }
    if target.chaos == "kubernetes":
        readers[KUBERNETES] = lambda: read_kubernetes(target.kubernetes)
    return collect_versions(readers)
