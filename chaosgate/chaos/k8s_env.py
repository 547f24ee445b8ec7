"""The target's cluster, made the one chaosk8s talks to while an experiment runs.

chaosk8s picks its cluster from the process environment (``create_k8s_api_client``):
``KUBECONFIG`` (else ``~/.kube/config``), ``KUBERNETES_CONTEXT``, or the pod's ServiceAccount
when ``CHAOSTOOLKIT_IN_POD=true`` and no kubeconfig file exists. ``kubernetes_environment``
sets those from the target's ``kubernetes`` section for the duration of one experiment and puts
everything back afterwards, so one run's cluster never leaks into the next (the campaign runs
chaos in-process, on the main thread, one experiment at a time):

- ``kubeconfig`` given: ``KUBECONFIG`` is that file (absolute); it must exist. Also set, and
  restored after: ``kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION``. chaosk8s
  checks ``KUBECONFIG`` but then calls ``load_kube_config()`` without a file, which reads that
  module constant, frozen from the environment when ``kubernetes`` was imported: without it
  chaosk8s would check one file and load another.
- ``kubeconfig`` None: the inherited ``KUBECONFIG`` stays; in a pod (``KUBERNETES_SERVICE_HOST``
  set) with no kubeconfig file, ``CHAOSTOOLKIT_IN_POD=true`` lets chaosk8s use the
  ServiceAccount.
- ``context`` given: ``KUBERNETES_CONTEXT``; None: it is unset (the kubeconfig's current
  context), whatever the shell exported.
- The kubernetes client's default configuration, which ``load_kube_config`` replaces, is saved
  and restored.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path

from kubernetes import client
from kubernetes.config import kube_config

from chaosgate.target import KubernetesConfig

__all__ = ["KubeconfigMissingError", "kubernetes_environment"]

_KEYS = ("KUBECONFIG", "KUBERNETES_CONTEXT", "CHAOSTOOLKIT_IN_POD")


class KubeconfigMissingError(Exception):
    """The target names a kubeconfig file that does not exist."""


@contextmanager
def kubernetes_environment(
    config: KubernetesConfig, *, environ: MutableMapping[str, str] | None = None
) -> Iterator[None]:
    """Inside the block, chaosk8s (and ``k8s_actions``) reach the cluster ``config`` names."""
    env = os.environ if environ is None else environ
    kubeconfig: Path | None = None
    if config.kubeconfig is not None:
        kubeconfig = Path(config.kubeconfig).expanduser().absolute()
        if not kubeconfig.is_file():
            raise KubeconfigMissingError(
                f"kubernetes.kubeconfig {str(kubeconfig)!r} does not exist; for the built-in "
                "target local-k8s start the stack with `chaosgate stack up --k8s`, otherwise "
                "fix kubernetes.kubeconfig in the target (or CHAOSGATE_KUBERNETES__KUBECONFIG)"
            )
    saved_env = {key: env.get(key) for key in _KEYS}
    saved_location = kube_config.KUBE_CONFIG_DEFAULT_LOCATION
    saved_default = client.Configuration.get_default_copy()
    try:
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        location = env.get("KUBECONFIG", "~/.kube/config")
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = location
        if (
            kubeconfig is None
            and "KUBERNETES_SERVICE_HOST" in env
            and not Path(location).expanduser().exists()
        ):
            env["CHAOSTOOLKIT_IN_POD"] = "true"
        if config.context is not None:
            env["KUBERNETES_CONTEXT"] = config.context
        else:
            env.pop("KUBERNETES_CONTEXT", None)
        yield
    finally:
        for key, value in saved_env.items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        kube_config.KUBE_CONFIG_DEFAULT_LOCATION = saved_location
        client.Configuration.set_default(saved_default)
