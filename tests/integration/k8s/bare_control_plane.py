"""A second, bare control plane for tests that need a cluster of their own (their own node
agent, their own service proxy, objects nobody else sees): etcd and kube-apiserver, optionally
the controller-manager and scheduler, started from the very command lines `stack up --k8s`
runs (:func:`refstack.launcher.k8s_parts.build_k8s_parts`) with the stack's PKI code, on other
ports and another Service range, as plain subprocesses stopped by PID."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import httpx
import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from refstack.launcher.builds import BuildError
from refstack.launcher.k8s_builds import ensure_k8s_builds
from refstack.launcher.k8s_parts import (
    K8sFiles,
    build_k8s_parts,
    kubernetes_service_ip,
    write_kubeconfigs,
)
from refstack.launcher.k8s_pki import ensure_pki
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import HOST
from tests.support.waiting import wait_until

__all__ = ["BareControlPlane", "Cluster", "bare_control_plane"]


@dataclass(frozen=True)
class Cluster:
    """A cluster the tests reach as admin: kubectl and the kubernetes client."""

    kubeconfig: Path
    kubectl: Path

    def run(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        """kubectl against this cluster."""
        return subprocess.run(
            [str(self.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )

    def api(self) -> k8s_client.ApiClient:
        """A kubernetes ApiClient (close it after use)."""
        api = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(self.kubeconfig)
        )
        return cast(k8s_client.ApiClient, api)


@dataclass(frozen=True)
class BareControlPlane(Cluster):
    api_port: int
    work: Path  # the logs (<part>.log) and state live here


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _wait_healthy(
    url: str, ca: Path, process: subprocess.Popen[bytes], log: Path, deadline_s: float
) -> None:
    context = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(verify=context, timeout=2.0, trust_env=False) as http:

        def healthy() -> bool:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                pytest.fail(f"{log.stem} exited with {process.returncode}: {tail}")
            return http.get(url).status_code == 200

        wait_until(
            healthy,
            timeout_s=deadline_s,
            interval_s=0.3,
            ignoring=(httpx.HTTPError,),
            message=f"{url} healthy; see {log}",
        )


@contextmanager
def bare_control_plane(
    work: Path,
    *,
    api_port: int,
    etcd_port: int,
    service_cidr: str,
    controllers: bool = False,
) -> Iterator[BareControlPlane]:
    """etcd (``etcd_port`` and +1) and kube-apiserver (``api_port``); with ``controllers`` also
    the controller-manager and scheduler (``api_port`` + 1 and + 2)."""
    try:
        builds = ensure_k8s_builds(StackLayout.from_env(os.environ))
    except BuildError as exc:
        pytest.fail(f"the control plane cannot be built: {exc}")
    ports = {
        "etcd": etcd_port,
        "etcd_peer": etcd_port + 1,
        "kube_apiserver": api_port,
        "kube_controller_manager": api_port + 1,
        "kube_scheduler": api_port + 2,
        "node_agent": 0,  # their parts are not started here
        "service_proxy": 0,
    }
    checked = ["etcd", "etcd_peer", "kube_apiserver"]
    if controllers:
        checked += ["kube_controller_manager", "kube_scheduler"]
    for name in checked:
        if _taken(ports[name]):
            pytest.fail(f"port {ports[name]} ({name}) on {HOST} is taken; stop what holds it")
    pki = ensure_pki(work / "pki", service_ip=kubernetes_service_ip(service_cidr))
    files = K8sFiles(work)
    write_kubeconfigs(
        files, f"https://{HOST}:{api_port}", pki, ("admin", "controller-manager", "scheduler")
    )
    layout = StackLayout.from_env({**os.environ, "CHAOSGATE_STACK_DIR": str(work / "state")})
    parts = build_k8s_parts(layout, ports, builds, pki, files, service_cidr=service_cidr)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for part in parts[: len(checked) - 1]:  # etcd, kube-apiserver[, controllers]
            log = work / f"{part.name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    list(part.program.command), stdout=out, stderr=subprocess.STDOUT
                )
            processes.append(process)
            _wait_healthy(part.health_url, pki.ca_cert, process, log, deadline_s=90)
        yield BareControlPlane(
            kubeconfig=files.admin_kubeconfig, kubectl=builds.kubectl, api_port=api_port, work=work
        )
    finally:
        _stop(processes)
