"""The local stack with Kubernetes (`chaosgate stack up --k8s`), started once per test session.

A plain stack (without Kubernetes) that an earlier test module started is stopped first: the two
share ports. Set CHAOSGATE_KEEP_STACK=1 to leave a stack this session started running afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from refstack.launcher.k8s_builds import ensure_k8s_builds
from refstack.launcher.k8s_parts import k8s_files
from refstack.launcher.launcher import stack_down, stack_up
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import part_urls
from refstack.launcher.ports import HOST, resolve_ports
from refstack.launcher.record import read_record
from tests.integration.k8s.bare_control_plane import Cluster


@dataclass(frozen=True)
class K8sStack(Cluster):
    """The stack's cluster (``kubeconfig``: admin; ``run``: kubectl; ``api()``) and its parts."""

    layout: StackLayout
    ports: dict[str, int]
    urls: dict[str, str]  # part_urls plus "gateway" (the NodePort) and "kube-apiserver"


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
