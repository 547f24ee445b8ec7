"""The files `stack up --k8s` writes before anything runs: PKI, kubeconfigs, node config,
Prometheus pod discovery, rsyslog's pod-log input, the wrapper kustomization."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from refstack.launcher.builds import SYSTEM_BINARIES, BuildError, BuildOutputs
from refstack.launcher.configs import (
    K8sDiscovery,
    prometheus_config,
    rsyslog_config,
    write_configs,
)
from refstack.launcher.k8s_builds import K8sBuildOutputs, ensure_k8s_builds
from refstack.launcher.k8s_deploy import wrapper_kustomization
from refstack.launcher.k8s_parts import (
    K8S_PART_NAMES,
    build_k8s_parts,
    k8s_files,
    kubernetes_service_ip,
    write_k8s_files,
)
from refstack.launcher.k8s_pki import TOKEN_USERS, ensure_pki
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import build_parts
from refstack.launcher.ports import K8S_PORT_NAMES, resolve_ports
from refstack.node_config import load_node_config

REPO = Path(__file__).resolve().parents[3]
SERVICE_RANGE = ipaddress.IPv4Network("10.96.0.0/12")  # allocated, never contacted
PORTS = resolve_ports(
    {"CHAOSGATE_PORT_KUBE_APISERVER": "16443", "CHAOSGATE_PORT_OTLP_HTTP": "14318"}
)


def _layout(tmp_path: Path) -> StackLayout:
    return StackLayout.from_env(
        {
            "CHAOSGATE_HOME": str(REPO),
            "CHAOSGATE_STACK_DIR": str(tmp_path / "state"),
            "CHAOSGATE_CACHE": str(tmp_path / "cache"),
        }
    )


def test_pki_serving_cert_is_signed_by_the_ca_and_names_loopback(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    serving = x509.load_pem_x509_certificate(pki.serving_cert.read_bytes())
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = names.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("127.0.0.1") in ips
    assert ipaddress.ip_address("10.96.0.1") in ips
    assert "kubernetes.default.svc" in names.get_values_for_type(x509.DNSName)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for secret in (pki.serving_key, pki.sa_key, pki.token_file):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret


def test_pki_is_written_once_and_reused(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    before = {p.name: p.read_bytes() for p in first.directory.iterdir()}
    again = ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    assert {p.name: p.read_bytes() for p in again.directory.iterdir()} == before


def test_token_file_rows_are_what_the_api_server_reads(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", service_ip="10.96.0.1")
    rows = pki.token_file.read_text().splitlines()
    assert len(rows) == len(TOKEN_USERS)
    tokens = set()
    for row, (user, (uid, groups)) in zip(rows, TOKEN_USERS.items(), strict=True):
        # token,user,uid[,"group1,group2"]
        match = re.fullmatch(r'([A-Za-z0-9_-]{40,}),([^,]+),([^,]+)(?:,"([^"]+)")?', row)
        assert match, row
        assert match.group(2) == user and match.group(3) == uid
        assert tuple((match.group(4) or "").split(",") if match.group(4) else ()) == groups
        assert pki.token(user) == match.group(1)
        tokens.add(match.group(1))
    assert len(tokens) == len(rows)
    assert pki.token_file_of("prometheus").read_text() == pki.token("prometheus")
    with pytest.raises(KeyError):
        pki.token("nobody")


def test_node_config_and_kubeconfigs(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    pki = ensure_pki(k8s_files(layout).pki_dir, service_ip=kubernetes_service_ip())
    files = write_k8s_files(layout, PORTS, pki, start_delay_s=7)
    node = load_node_config(files.node_config)
    assert node.apiserver_port == 16443
    assert node.kubeconfig == files.kubeconfig("node")
    restaurant = node.image("chaosgate/restaurant:local")
    assert restaurant is not None and restaurant.start_delay_s == 7
    assert restaurant.env["PYTHONPATH"] == f"{REPO}/refstack/services"
    assert "{" not in files.node_config.read_text(), "placeholders left unfilled"
    stress = node.image("docker.io/colinianking/stress-ng:latest")
    assert stress is not None and stress.entrypoint == ("stress-ng",)
    admin = yaml.safe_load(files.admin_kubeconfig.read_text())
    assert admin["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:16443"
    assert admin["clusters"][0]["cluster"]["certificate-authority"] == str(pki.ca_cert)
    assert admin["users"][0]["user"]["token"] == pki.token("admin")
    assert stat.S_IMODE(files.admin_kubeconfig.stat().st_mode) == 0o600


def test_k8s_parts_listen_on_loopback_only(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    pki = ensure_pki(k8s_files(layout).pki_dir, service_ip=kubernetes_service_ip())
    files = write_k8s_files(layout, PORTS, pki, start_delay_s=0)
    binaries = tmp_path / "bin"
    builds = K8sBuildOutputs(
        etcd_binary=binaries / "etcd",
        kube_apiserver=binaries / "kube-apiserver",
        kube_controller_manager=binaries / "kube-controller-manager",
        kube_scheduler=binaries / "kube-scheduler",
        kubectl=binaries / "kubectl",
        prometheus=binaries / "prometheus",
        promtool=binaries / "promtool",
        results=(),
    )
    parts = build_k8s_parts(layout, PORTS, builds, pki, files)
    assert tuple(part.name for part in parts) == K8S_PART_NAMES
    for part in parts:
        command = " ".join(part.program.command)
        for address in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", command):
            ip = ipaddress.IPv4Address(address)
            assert ip.is_loopback or ip in SERVICE_RANGE, f"{part.name} names {address}"
        assert part.health_url.startswith(("http://127.0.0.1:", "https://127.0.0.1:"))
    apiserver = " ".join(parts[1].program.command)
    assert "--endpoint-reconciler-type=none" in apiserver
    assert f"--secure-port={PORTS['kube_apiserver']}" in apiserver


def test_k8s_ports_are_not_checked_by_the_plain_stack() -> None:
    assert "kube_apiserver" in K8S_PORT_NAMES and "gateway" not in K8S_PORT_NAMES
    assert set(PORTS) >= K8S_PORT_NAMES


def test_prometheus_discovers_annotated_running_pods(tmp_path: Path) -> None:
    discovery = K8sDiscovery("https://127.0.0.1:6443", tmp_path / "ca.crt", tmp_path / "t")
    config = yaml.safe_load(prometheus_config(PORTS, tmp_path / "rules.yml", discovery))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert "gateway" not in jobs and "node" in jobs
    pods = jobs["kubernetes-pods"]
    sd = pods["kubernetes_sd_configs"][0]
    assert sd["role"] == "pod" and sd["api_server"] == "https://127.0.0.1:6443"
    assert sd["namespaces"] == {"names": ["restaurant"]}
    relabel = {tuple(r["source_labels"]): r for r in pods["relabel_configs"]}
    address = relabel[
        ("__meta_kubernetes_pod_ip", "__meta_kubernetes_pod_annotation_prometheus_io_port")
    ]
    assert re.fullmatch(address["regex"], "127.1.0.5;8080")
    assert relabel[("__meta_kubernetes_pod_label_app_kubernetes_io_name",)]["target_label"] == "job"
    assert relabel[("__meta_kubernetes_pod_phase",)]["regex"] == "Running"


@pytest.mark.tools
def test_the_built_prometheus_accepts_the_k8s_config(tmp_path: Path) -> None:
    """The promtool built with the stack's Prometheus checks the rendered config for real
    (Debian's is built without Kubernetes discovery and refuses it)."""
    layout = StackLayout.from_env(os.environ)
    try:
        promtool = ensure_k8s_builds(layout).promtool  # cached: `scripts/test` builds it first
    except BuildError as exc:
        pytest.fail(f"cannot build promtool: {exc}")
    (tmp_path / "ca.crt").write_text("")
    (tmp_path / "token").write_text("t")
    rules = tmp_path / "rules.yml"
    rules.write_text((REPO / "refstack" / "prometheus" / "rules.yml").read_text())
    discovery = K8sDiscovery("https://127.0.0.1:6443", tmp_path / "ca.crt", tmp_path / "token")
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config(PORTS, rules, discovery))
    proc = subprocess.run(
        [str(promtool), "check", "config", "--syntax-only", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rsyslog_tails_pod_logs_only_with_k8s(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    plain = rsyslog_config(PORTS, layout)
    with_pods = rsyslog_config(PORTS, layout, tmp_path / "pod-logs")
    assert "pod-logs" not in plain
    assert f'file="{tmp_path / "pod-logs"}/*.log"' in with_pods
    assert with_pods.count('ruleset="ship_to_store"') == 2


def test_wrapper_kustomization_sets_this_stacks_ports(tmp_path: Path) -> None:
    overlay = REPO / "manifests" / "overlays" / "local"
    deploy = tmp_path / "state" / "k8s" / "deploy"
    data = tmp_path / "data"
    text = wrapper_kustomization(overlay, deploy, {**PORTS, "gateway_nodeport": 30111}, data)
    kustomization = yaml.safe_load(text)
    (resource,) = kustomization["resources"]
    assert (deploy / resource).resolve() == overlay.resolve()
    observability, storage = kustomization["configMapGenerator"]
    assert observability["behavior"] == storage["behavior"] == "merge"
    assert observability["literals"] == ["OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318"]
    # one file per service, shared by its replicas
    assert storage["literals"] == [
        f"ORDERS_DATABASE_URL=sqlite:///{data}/orders.db",
        f"USERS_DATABASE_URL=sqlite:///{data}/users.db",
    ]
    (patch,) = kustomization["patches"]
    assert yaml.safe_load(patch["patch"]) == [
        {"op": "replace", "path": "/spec/ports/0/nodePort", "value": 30111}
    ]


def test_the_k8s_stacks_prometheus_keeps_its_own_data(tmp_path: Path) -> None:
    """Another Prometheus release, other series: the two stacks never share a TSDB."""
    layout = _layout(tmp_path)
    builds = BuildOutputs(
        jaeger_binary=tmp_path / "jaeger", store_dirs={"opensearch": tmp_path}, results=()
    )
    binaries = {name: tmp_path / name for name in SYSTEM_BINARIES}
    configs = write_configs(layout, PORTS)

    def data_dir(k8s: bool) -> str:
        parts = build_parts(layout, PORTS, builds, binaries, configs, k8s=k8s)
        (prometheus,) = [part for part in parts if part.name == "prometheus"]
        (flag,) = [a for a in prometheus.program.command if a.startswith("--storage.tsdb.path=")]
        return flag.partition("=")[2]

    assert data_dir(k8s=False) == str(layout.data_dir / "prometheus")
    assert data_dir(k8s=True) == str(layout.data_dir / "prometheus-k8s")
