"""Every kustomization under manifests/ is accepted by a real API server (server-side dry run).

The fixture is a bare control plane for this module only: etcd and kube-apiserver on loopback
(ports 19379/19380 and 19443, Service range 10.202.0.0/16), no controllers, no node: a dry run
needs nothing else. It is to be replaced by the session's ``k8s_stack`` fixture.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chaosgate.stack.builds import BuildError, K8sBuildOutputs, ensure_k8s_builds
from chaosgate.stack.layout import StackLayout

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
KUSTOMIZATIONS = ("base/restaurant", "overlays/local", "overlays/cluster", "suite")
NAMESPACES = ("restaurant", "chaosgate")
HOST = "127.0.0.1"
APISERVER_PORT = 19443
ETCD_PORT = 19379
ETCD_PEER_PORT = 19380
SERVICE_CIDR = "10.202.0.0/16"
TOKEN = "chaosgate-manifests-test"


@dataclass(frozen=True)
class ControlPlane:
    kubectl: Path
    kubeconfig: Path

    def run(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.kubectl), f"--kubeconfig={self.kubeconfig}", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )


def _builds() -> K8sBuildOutputs:
    try:
        return ensure_k8s_builds(StackLayout.from_env(os.environ))
    except BuildError as exc:
        if shutil.which("go") is None:
            pytest.skip(f"the control plane is not built and Go is not installed: {exc}")
        raise


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) != 0


def _write_keys(state: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (state / "sa.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    (state / "sa.pub").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _wait_ready(state: Path, apiserver: subprocess.Popen[bytes], deadline_s: float) -> Path:
    """Wait for /readyz; returns the CA of the self-signed serving certificate."""
    cert = state / "certs" / "apiserver.crt"
    ca = state / "ca.crt"
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if apiserver.poll() is not None:
            log = (state / "apiserver.log").read_text(errors="replace")[-2000:]
            pytest.fail(f"kube-apiserver exited with {apiserver.returncode}: {log}")
        if cert.is_file():
            # the file holds the serving certificate followed by the CA that signed it
            blocks = cert.read_text().split("-----END CERTIFICATE-----")
            if len(blocks) >= 2:
                ca.write_text(blocks[1].strip() + "\n-----END CERTIFICATE-----\n")
                try:
                    answer = httpx.get(
                        f"https://{HOST}:{APISERVER_PORT}/readyz",
                        headers={"Authorization": f"Bearer {TOKEN}"},
                        verify=ssl.create_default_context(cafile=str(ca)),
                        timeout=2.0,
                    )
                    if answer.status_code == 200:
                        return ca
                except httpx.HTTPError:
                    pass
        time.sleep(0.5)
    pytest.fail(f"kube-apiserver not ready within {deadline_s:.0f} s; see {state}/apiserver.log")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in reversed(processes):
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    builds = _builds()
    for port in (APISERVER_PORT, ETCD_PORT, ETCD_PEER_PORT):
        if not _port_free(port):
            pytest.fail(f"port {port} on {HOST} is taken; stop what listens there and rerun")
    state = tmp_path_factory.mktemp("control-plane")
    _write_keys(state)
    (state / "tokens.csv").write_text(f"{TOKEN},admin,admin-uid,system:masters\n")
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with (state / "etcd.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [
                        str(builds.etcd_binary),
                        "--name=manifests-test",
                        f"--data-dir={state / 'etcd'}",
                        f"--listen-client-urls=http://{HOST}:{ETCD_PORT}",
                        f"--advertise-client-urls=http://{HOST}:{ETCD_PORT}",
                        f"--listen-peer-urls=http://{HOST}:{ETCD_PEER_PORT}",
                        f"--initial-advertise-peer-urls=http://{HOST}:{ETCD_PEER_PORT}",
                        f"--initial-cluster=manifests-test=http://{HOST}:{ETCD_PEER_PORT}",
                        "--listen-metrics-urls=",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        with (state / "apiserver.log").open("wb") as log:
            apiserver = subprocess.Popen(
                [
                    str(builds.kube_apiserver),
                    f"--etcd-servers=http://{HOST}:{ETCD_PORT}",
                    f"--bind-address={HOST}",
                    f"--advertise-address={HOST}",
                    f"--secure-port={APISERVER_PORT}",
                    f"--cert-dir={state / 'certs'}",
                    f"--token-auth-file={state / 'tokens.csv'}",
                    "--authorization-mode=RBAC",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={state / 'sa.pub'}",
                    f"--service-account-signing-key-file={state / 'sa.key'}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}",
                    "--endpoint-reconciler-type=none",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            processes.append(apiserver)
        ca = _wait_ready(state, apiserver, deadline_s=90)
        kubeconfig = state / "admin.kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "test",
                            "cluster": {
                                "server": f"https://{HOST}:{APISERVER_PORT}",
                                "certificate-authority": str(ca),
                            },
                        }
                    ],
                    "users": [{"name": "admin", "user": {"token": TOKEN}}],
                    "contexts": [{"name": "test", "context": {"cluster": "test", "user": "admin"}}],
                    "current-context": "test",
                }
            )
        )
        plane = ControlPlane(kubectl=builds.kubectl, kubeconfig=kubeconfig)
        # a dry run cannot create the namespaces the namespaced objects go into
        for namespace in NAMESPACES:
            created = plane.run("create", "namespace", namespace)
            assert created.returncode == 0, created.stderr
        yield plane
    finally:
        _stop(processes)


def _object_count(plane: ControlPlane, directory: Path) -> int:
    rendered = plane.run("kustomize", str(directory))
    assert rendered.returncode == 0, rendered.stderr
    return sum(1 for doc in yaml.safe_load_all(rendered.stdout) if doc is not None)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_api_server_accepts_every_object(control_plane: ControlPlane, kustomization: str) -> None:
    directory = MANIFESTS / kustomization
    applied = control_plane.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=chaosgate-manifests-test",
        "-k",
        str(directory),
    )
    assert applied.returncode == 0, f"{kustomization}: {applied.stderr}"
    accepted = [line for line in applied.stdout.splitlines() if "(server dry run)" in line]
    assert len(accepted) == _object_count(control_plane, directory), applied.stdout


@pytest.mark.parametrize("spec", sorted(p.name for p in (MANIFESTS / "chaos").glob("*.yaml")))
def test_api_server_accepts_every_stress_job(control_plane: ControlPlane, spec: str) -> None:
    """manifests/chaos holds plain files the experiments create, not a kustomization."""
    applied = control_plane.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=chaosgate-manifests-test",
        f"--filename={MANIFESTS / 'chaos' / spec}",
    )
    assert applied.returncode == 0, f"{spec}: {applied.stderr}"
    assert "job.batch/" in applied.stdout and "(server dry run)" in applied.stdout


def test_api_server_gives_the_local_gateway_node_port_30080(control_plane: ControlPlane) -> None:
    applied = control_plane.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=chaosgate-manifests-test",
        "-k",
        str(MANIFESTS / "overlays" / "local"),
        "-o",
        "yaml",
    )
    assert applied.returncode == 0, applied.stderr
    answer = yaml.safe_load(applied.stdout)
    objects = answer["items"] if answer.get("kind") == "List" else [answer]
    (gateway,) = [
        o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "gateway"
    ]
    (port,) = gateway["spec"]["ports"]
    assert (gateway["spec"]["type"], port["nodePort"]) == ("NodePort", 30080)
