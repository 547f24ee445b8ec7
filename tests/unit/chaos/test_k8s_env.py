"""kubernetes_environment: chaosk8s reaches the target's cluster inside it, nothing leaks out.

chaosk8s' own client factory is called for real (it reads files and the environment and builds
a client; nothing connects), so these tests see the cluster chaosk8s would talk to.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from chaosk8s import create_k8s_api_client
from kubernetes import client
from kubernetes.config import kube_config

from chaosgate.chaos.k8s_env import KubeconfigMissingError, kubernetes_environment
from chaosgate.target import KubernetesConfig


def _kubeconfig(path: Path, servers: dict[str, str], current: str) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": name, "cluster": {"server": url, "insecure-skip-tls-verify": True}}
                    for name, url in servers.items()
                ],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [
                    {"name": name, "context": {"cluster": name, "user": "u"}} for name in servers
                ],
                "current-context": current,
            }
        )
    )
    return path


def _host() -> str:
    api = create_k8s_api_client()
    try:
        return str(api.configuration.host)
    finally:
        api.close()


@pytest.fixture
def ambient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's own kubeconfig and context, exported in the shell before the run."""
    path = _kubeconfig(tmp_path / "mine", {"mine": "https://127.0.0.1:1111"}, "mine")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("KUBERNETES_CONTEXT", "mine")
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    monkeypatch.delenv("CHAOSTOOLKIT_IN_POD", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    return path


def test_chaosk8s_talks_to_the_targets_cluster_and_context(tmp_path: Path, ambient: Path) -> None:
    target = _kubeconfig(
        tmp_path / "target",
        {"a": "https://127.0.0.1:2222", "b": "https://127.0.0.1:3333"},
        "a",
    )
    with kubernetes_environment(KubernetesConfig(kubeconfig=str(target))):
        assert os.environ["KUBECONFIG"] == str(target)
        assert "KUBERNETES_CONTEXT" not in os.environ  # the shell's one is not the target's
        assert _host() == "https://127.0.0.1:2222"
    with kubernetes_environment(KubernetesConfig(kubeconfig=str(target), context="b")):
        assert _host() == "https://127.0.0.1:3333"
    # nothing of the target outlives the block
    assert os.environ["KUBECONFIG"] == str(ambient)
    assert os.environ["KUBERNETES_CONTEXT"] == "mine"
    assert str(ambient) == kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    assert _host() == "https://127.0.0.1:1111"


def test_a_relative_kubeconfig_is_made_absolute(
    tmp_path: Path, ambient: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kubeconfig(tmp_path / "rel", {"r": "https://127.0.0.1:4444"}, "r")
    monkeypatch.chdir(tmp_path)
    with kubernetes_environment(KubernetesConfig(kubeconfig="rel")):
        assert os.environ["KUBECONFIG"] == str(tmp_path / "rel")
        assert _host() == "https://127.0.0.1:4444"


def test_the_default_configuration_is_restored_even_after_an_error(
    tmp_path: Path, ambient: Path
) -> None:
    target = _kubeconfig(tmp_path / "target", {"a": "https://127.0.0.1:2222"}, "a")
    before = client.Configuration.get_default_copy().host
    with (
        pytest.raises(RuntimeError),
        kubernetes_environment(KubernetesConfig(kubeconfig=str(target))),
    ):
        create_k8s_api_client().close()  # load_kube_config replaces the default configuration
        assert client.Configuration.get_default_copy().host == "https://127.0.0.1:2222"
        raise RuntimeError("the experiment failed")
    assert client.Configuration.get_default_copy().host == before
    assert os.environ["KUBECONFIG"] == str(ambient)


def test_a_missing_kubeconfig_says_how_to_get_one(tmp_path: Path, ambient: Path) -> None:
    missing = tmp_path / "k8s" / "admin.kubeconfig"
    with (
        pytest.raises(KubeconfigMissingError, match="chaosgate stack up --k8s"),
        kubernetes_environment(KubernetesConfig(kubeconfig=str(missing))),
    ):
        pass
    assert os.environ["KUBECONFIG"] == str(ambient)


def test_without_a_kubeconfig_the_inherited_one_stays(ambient: Path) -> None:
    with kubernetes_environment(KubernetesConfig(context="mine")):
        assert os.environ["KUBECONFIG"] == str(ambient)
        assert _host() == "https://127.0.0.1:1111"


def test_in_a_pod_without_a_kubeconfig_chaosk8s_uses_the_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBECONFIG": str(tmp_path / "none")}
    with kubernetes_environment(KubernetesConfig(), environ=env):
        assert env["CHAOSTOOLKIT_IN_POD"] == "true"
    assert "CHAOSTOOLKIT_IN_POD" not in env
    # outside a pod nothing is claimed
    outside = {"KUBECONFIG": str(tmp_path / "none")}
    with kubernetes_environment(KubernetesConfig(), environ=outside):
        assert "CHAOSTOOLKIT_IN_POD" not in outside
