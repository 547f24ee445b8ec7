"""How one container of a pod is started on this node: its argv, environment, working
directory and volumes, resolved afresh at every start.

A start reads the namespace's Services and the ConfigMaps and Secrets the container's env
names from the API (a restart sees those of its own time, as a kubelet's restart does), builds
the kubelet's environment (:mod:`.podenv`, :mod:`refstack.service_env`) on top of the image's
node spec, and gives a container without a working directory its own sandbox directory under
the pod's directory. An API that cannot be read is a :class:`~.podenv.ContainerEnvError`: the
container waits with ``CreateContainerConfigError`` and is tried again, as for a missing
ConfigMap.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from refstack.node.containers import Launch
from refstack.node.kubeapi import PodApi
from refstack.node.podenv import (
    ContainerEnvError,
    PodFacts,
    container_argv,
    env_references,
    kube_env,
    process_env,
)
from refstack.node.podvolumes import container_sandbox
from refstack.node_config import ImageSpec, NodeConfig
from refstack.service_env import service_env

__all__ = ["container_launch"]


def container_launch(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    image: ImageSpec,
    *,
    pod_ip: str,
    pod_dir: Path,
    config: NodeConfig,
    api: PodApi,
    allocatable: Mapping[str, str],
    agent_env: Mapping[str, str],
) -> Launch:
    """How to start ``container`` of ``pod`` now; raises ContainerEnvError when its config
    cannot be resolved yet."""
    ns = str(pod["metadata"]["namespace"])
    spec = pod.get("spec") or {}
    refs = env_references(container)
    try:
        services = api.services(ns)
        config_maps = {n: c for n in refs.config_maps if (c := api.config_map(ns, n))}
        secrets = {n: s for n in refs.secrets if (s := api.secret(ns, n))}
    except Exception as exc:  # the API is away: retry later, as for a missing ConfigMap
        raise ContainerEnvError(f"cannot read the pod's config from the API: {exc}") from exc
    services_env = service_env(
        services,
        apiserver_host=config.apiserver_host,
        apiserver_port=config.apiserver_port,
        enable_service_links=spec.get("enableServiceLinks") is not False,
    )
    facts = PodFacts(pod_ip=pod_ip, host_ip=config.node_ip, allocatable=allocatable)
    kube = kube_env(
        pod,
        container,
        facts=facts,
        service_env=services_env,
        config_maps=config_maps,
        secrets=secrets,
    )
    argv = container_argv(container, image, kube)
    hostname = str(spec.get("hostname") or pod["metadata"]["name"])[:63]
    env = process_env(kube, image=image, hostname=hostname, agent_env=agent_env)
    cwd = container.get("workingDir") or image.working_dir
    if not cwd:
        sandbox = pod_dir / str(container["name"])
        sandbox.mkdir(parents=True, exist_ok=True)
        cwd = str(sandbox)
    volumes = container_sandbox(api, pod, container, pod_dir)
    return Launch(argv=argv, env=env, cwd=str(cwd), sandbox=volumes)
