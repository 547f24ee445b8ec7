"""The local stack with Kubernetes (`chaosgate stack up --k8s`), started once per test session.

A plain stack (without Kubernetes) that an earlier test module started is stopped first: the two
share ports. Set CHAOSGATE_KEEP_STACK=1 to leave a stack this session started running afterwards.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from chaosgate.stack.builds import ensure_k8s_builds
from chaosgate.stack.k8s_parts import k8s_files
from chaosgate.stack.launcher import read_record, stack_down, stack_up
from chaosgate.stack.layout import StackLayout
from chaosgate.stack.parts import part_urls
from chaosgate.stack.ports import HOST, resolve_ports


@dataclass(frozen=True)
class K8sStack:
    layout: StackLayout
    ports: dict[str, int]
    urls: dict[str, str]  # part_urls plus "gateway" (the NodePort) and "kube-apiserver"
    kubeconfig: Path
    kubectl: Path

    def run(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """kubectl against this cluster (admin)."""
        return subprocess.run(
            [str(self.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def api(self) -> k8s_client.ApiClient:
        """A kubernetes ApiClient for this cluster (close it after use)."""
        api = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig)
        )
        return cast(k8s_client.ApiClient, api)


def _say(message: str) -> None:
    print(f"[k8s stack] {message}", flush=True)


@pytest.fixture(scope="session")
def k8s_stack() -> Iterator[K8sStack]:
    layout = StackLayout.from_env(os.environ)
    record = read_record(layout)
    if record is not None and not record.k8s:
        _say("a stack without Kubernetes is running; stopping it")
        stack_down(layout, report=_say)
        record = None
    ports = dict(record.ports) if record else resolve_ports(os.environ)
    with httpx.Client(timeout=3.0) as http:
        stack_up(layout, ports, http, report=_say, timeout_s=900, k8s=True)
    urls = part_urls(ports)
    urls["gateway"] = f"http://{HOST}:{ports['gateway_nodeport']}"
    urls["kube-apiserver"] = f"https://{HOST}:{ports['kube_apiserver']}"
    yield K8sStack(
        layout=layout,
        ports=ports,
        urls=urls,
        kubeconfig=k8s_files(layout).admin_kubeconfig,
        kubectl=ensure_k8s_builds(layout).kubectl,
    )
    if record is None and os.environ.get("CHAOSGATE_KEEP_STACK") != "1":
        stack_down(layout, report=_say)
