"""What `stack up --k8s` gives the node's kubelet API and the API server that calls it: the
port, the node config's TLS files, the API server's kubelet flags, and the certificates."""

from __future__ import annotations

import ipaddress
import stat
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from refstack.launcher.k8s_builds import K8sBuildOutputs
from refstack.launcher.k8s_parts import (
    build_k8s_parts,
    k8s_files,
    kubernetes_service_ip,
    write_k8s_files,
)
from refstack.launcher.k8s_pki import ensure_pki
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import DEFAULT_PORTS, K8S_PORT_NAMES, PORT_OWNERS, resolve_ports
from refstack.node.node import node_status
from refstack.node_config import load_node_config

REPO = Path(__file__).resolve().parents[3]
PORTS = resolve_ports({"CHAOSGATE_PORT_KUBELET": "20250"})


def _layout(tmp_path: Path) -> StackLayout:
    return StackLayout.from_env(
        {
            "CHAOSGATE_HOME": str(REPO),
            "CHAOSGATE_STACK_DIR": str(tmp_path / "state"),
            "CHAOSGATE_CACHE": str(tmp_path / "cache"),
        }
    )


def _builds(tmp_path: Path) -> K8sBuildOutputs:
    binaries = tmp_path / "bin"
    return K8sBuildOutputs(
        etcd_binary=binaries / "etcd",
        kube_apiserver=binaries / "kube-apiserver",
        kube_controller_manager=binaries / "kube-controller-manager",
        kube_scheduler=binaries / "kube-scheduler",
        kubectl=binaries / "kubectl",
        prometheus=binaries / "prometheus",
        promtool=binaries / "promtool",
        results=(),
    )


def test_the_kubelet_port_is_a_k8s_port_of_its_own() -> None:
    assert DEFAULT_PORTS["kubelet"] == 10250
    assert "kubelet" in K8S_PORT_NAMES and PORT_OWNERS["kubelet"].startswith("node-agent")
    assert resolve_ports({})["kubelet"] != resolve_ports({})["node_agent"]


def test_the_node_config_names_the_port_and_tls_files_and_the_status_reports_it(
    tmp_path: Path,
) -> None:
    layout = _layout(tmp_path)
    pki = ensure_pki(k8s_files(layout).pki_dir, service_ip=kubernetes_service_ip())
    files = write_k8s_files(layout, PORTS, pki, start_delay_s=0)
    node = load_node_config(files.node_config)
    assert node.kubelet_port == 20250
    assert node.agent_health_port == PORTS["node_agent"]
    assert node.kubelet_tls is not None
    assert (node.kubelet_tls.cert, node.kubelet_tls.key) == (pki.serving_cert, pki.serving_key)
    assert node.kubelet_tls.client_ca == pki.ca_cert
    status = node_status(node, capacity={}, info={}, now=datetime.now(UTC))
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 20250}}
    assert {"type": "InternalIP", "address": node.node_ip} in status["addresses"]
    serving = x509.load_pem_x509_certificate(node.kubelet_tls.cert.read_bytes())
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address(node.node_ip) in names.get_values_for_type(x509.IPAddress)


def test_the_api_server_calls_the_kubelet_at_its_internal_ip_with_a_client_cert(
    tmp_path: Path,
) -> None:
    layout = _layout(tmp_path)
    pki = ensure_pki(k8s_files(layout).pki_dir, service_ip=kubernetes_service_ip())
    files = write_k8s_files(layout, PORTS, pki, start_delay_s=0)
    parts = {
        part.name: part for part in build_k8s_parts(layout, PORTS, _builds(tmp_path), pki, files)
    }
    command = parts["kube-apiserver"].program.command
    assert "--kubelet-preferred-address-types=InternalIP" in command
    assert f"--kubelet-certificate-authority={pki.ca_cert}" in command
    assert f"--kubelet-client-certificate={pki.kubelet_client_cert}" in command
    assert f"--kubelet-client-key={pki.kubelet_client_key}" in command
    assert parts["node-agent"].health_url.endswith(f":{PORTS['node_agent']}/healthz")


def test_the_kubelet_client_certificate_is_the_cas_and_for_clients_only(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    cert = x509.load_pem_x509_certificate(pki.kubelet_client_cert.read_bytes())
    cert.verify_directly_issued_by(ca)
    common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == "kube-apiserver-kubelet-client"
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    for secret in (pki.ca_key, pki.kubelet_client_key):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret


def test_a_pki_written_before_the_ca_key_was_kept_gets_a_new_ca_once(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    for path in (pki.ca_key, pki.kubelet_client_cert, pki.kubelet_client_key):
        path.unlink()  # as a directory from before the kubelet API looked
    kept = {p: p.read_bytes() for p in (pki.sa_key, pki.sa_pub, pki.token_file)}
    old_ca = pki.ca_cert.read_bytes()
    ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    assert pki.ca_cert.read_bytes() != old_ca
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    for path in (pki.serving_cert, pki.kubelet_client_cert):
        x509.load_pem_x509_certificate(path.read_bytes()).verify_directly_issued_by(ca)
    assert {p: p.read_bytes() for p in kept} == kept  # tokens and SA keys stay
    again = {p.name: p.read_bytes() for p in pki.directory.iterdir()}
    ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    assert {p.name: p.read_bytes() for p in pki.directory.iterdir()} == again


def test_a_missing_client_certificate_is_signed_by_the_kept_ca(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    ca_before, serving_before = pki.ca_cert.read_bytes(), pki.serving_cert.read_bytes()
    pki.kubelet_client_cert.unlink()
    ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    assert (pki.ca_cert.read_bytes(), pki.serving_cert.read_bytes()) == (
        ca_before,
        serving_before,
    )
    ca = x509.load_pem_x509_certificate(ca_before)
    x509.load_pem_x509_certificate(pki.kubelet_client_cert.read_bytes()).verify_directly_issued_by(
        ca
    )
