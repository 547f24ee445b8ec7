"""The Kubernetes parts of ``chaosgate stack up --k8s``: etcd, the control plane, the node agent
and the service proxy, as supervised programs, plus the files they read (kubeconfigs, the node
configuration).

Everything listens on 127.0.0.1. The API server is reached with the cluster CA of
:mod:`refstack.launcher.k8s_pki`; the controller-manager and scheduler serve the same certificate.
Pods are processes run by the node agent (:mod:`refstack.node`) and Services are served on
loopback by the service proxy (:mod:`refstack.proxy`); both read ``node.yaml``. The API server
reaches the node agent's kubelet API (``kubectl logs``) at the node's InternalIP and the
``kubelet`` port, with the cluster CA's client certificate.
"""

from __future__ import annotations

import ipaddress
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from refstack.launcher.k8s_builds import K8sBuildOutputs
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import Part
from refstack.launcher.ports import HOST
from refstack.launcher.supervisor import Program

if TYPE_CHECKING:  # the PKI needs cryptography, which only the local stack's extra installs
    from refstack.launcher.k8s_pki import ClusterPki

__all__ = [
    "DEFAULT_POD_START_DELAY_S",
    "K8S_PART_NAMES",
    "NODE_NAME",
    "POD_CIDR",
    "SERVICE_CIDR",
    "K8sFiles",
    "build_k8s_parts",
    "k8s_files",
    "kubeconfig_text",
    "kubernetes_service_ip",
    "node_config_text",
    "write_k8s_files",
    "write_kubeconfigs",
]

NODE_NAME = "chaosgate-local"
SERVICE_CIDR = "10.96.0.0/12"  # allocated by the API server, never contacted (loopback mapping)
POD_CIDR = "127.1.0.0/16"
NODE_PORT_RANGE = (30000, 32767)
K8S_PART_NAMES = (
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "node-agent",
    "service-proxy",
)
# the image the restaurant services run from, and its emulated start cost (sandbox creation and
# image start on a real node). A killed pod must stay replaced-but-not-serving for longer than a
# down alert takes to fire here: termination, the pod leaving Prometheus' discovery, the rule's
# `for: 5s` and an evaluation add up to 8-10 s (the plain stack's supervised restart is seen
# 2-3 s sooner, hence its 10 s); with 10 s a CI run saw UsersServiceDown active for 1 s, gone
# before Alertmanager's group_wait, so no notification was ever sent.
RESTAURANT_IMAGE = "chaosgate/restaurant"
# kubeconfig name -> the token user it authenticates as (refstack.launcher.k8s_pki.TOKEN_USERS)
KUBECONFIG_USERS: Mapping[str, str] = {
    "admin": "admin",
    "controller-manager": "system:kube-controller-manager",
    "scheduler": "system:kube-scheduler",
    "node": "system:node:chaosgate",
}
DEFAULT_POD_START_DELAY_S = 15


@dataclass(frozen=True)
class K8sFiles:
    """Where the Kubernetes stack keeps its files (under ``<state dir>/k8s``)."""

    root: Path

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def admin_kubeconfig(self) -> Path:
        """The kubeconfig for users, kubectl and chaosk8s."""
        return self.root / "admin.kubeconfig"

    def kubeconfig(self, component: str) -> Path:
        return self.root / f"{component}.kubeconfig"

    @property
    def node_config(self) -> Path:
        return self.root / "node.yaml"

    @property
    def node_state(self) -> Path:
        return self.root / "node"

    @property
    def pod_logs(self) -> Path:
        """One ``<namespace>_<pod>_<container>.log`` per container (rsyslog ships them)."""
        return self.root / "pod-logs"

    @property
    def app_data(self) -> Path:
        """The restaurant services' SQLite files, shared by a Deployment's replicas."""
        return self.root / "data"

    @property
    def deploy_dir(self) -> Path:
        """The kustomization ``stack up`` applies (the local overlay with this stack's ports)."""
        return self.root / "deploy"


def k8s_files(layout: StackLayout) -> K8sFiles:
    return K8sFiles(layout.state_dir / "k8s")


def kubeconfig_text(server: str, ca_file: Path, user: str, token: str) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "chaosgate-local",
                "cluster": {"server": server, "certificate-authority": str(ca_file)},
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {
                "name": "chaosgate-local",
                "context": {"cluster": "chaosgate-local", "user": user, "namespace": "restaurant"},
            }
        ],
        "current-context": "chaosgate-local",
    }
    return yaml.safe_dump(config, sort_keys=False)


def _apiserver_url(ports: Mapping[str, int]) -> str:
    return f"https://{HOST}:{ports['kube_apiserver']}"


def node_config_text(
    layout: StackLayout,
    ports: Mapping[str, int],
    files: K8sFiles,
    pki: ClusterPki,
    *,
    start_delay_s: float,
) -> str:
    """``node.yaml`` for the node agent and the service proxy (see refstack.node_config).

    The image map comes from ``refstack/control-plane/images.yaml`` with ``{repo}`` and
    ``{venv}`` filled in. The kubelet API serves the cluster's serving certificate (it names
    127.0.0.1, the node's address) and answers clients the cluster CA signed.
    """
    venv_bin = str(Path(sys.executable).parent)
    template = (layout.refstack_src / "control-plane" / "images.yaml").read_text()
    rendered = template.replace("{repo}", str(layout.repo_root)).replace("{venv}", venv_bin)
    images = yaml.safe_load(rendered)["images"]
    images[RESTAURANT_IMAGE]["start_delay_s"] = start_delay_s
    config = {
        "kubeconfig": str(files.kubeconfig("node")),
        "node_name": NODE_NAME,
        "node_ip": HOST,
        "pod_cidr": POD_CIDR,
        "service_cidr": SERVICE_CIDR,
        "apiserver_host": HOST,
        "apiserver_port": ports["kube_apiserver"],
        "state_dir": str(files.node_state),
        "container_log_dir": str(files.pod_logs),
        "agent_health_port": ports["node_agent"],
        "kubelet_port": ports["kubelet"],
        "kubelet_tls": {
            "cert": str(pki.serving_cert),
            "key": str(pki.serving_key),
            "client_ca": str(pki.ca_cert),
        },
        "proxy_health_port": ports["service_proxy"],
        "images": images,
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_k8s_files(
    layout: StackLayout,
    ports: Mapping[str, int],
    pki: ClusterPki,
    *,
    start_delay_s: float,
) -> K8sFiles:
    """Kubeconfigs (admin, controller-manager, scheduler, node) and ``node.yaml``."""
    files = k8s_files(layout)
    for path in (files.root, files.node_state, files.pod_logs, files.deploy_dir):
        path.mkdir(parents=True, exist_ok=True)
    write_kubeconfigs(files, _apiserver_url(ports), pki)
    files.node_config.write_text(
        node_config_text(layout, ports, files, pki, start_delay_s=start_delay_s)
    )
    return files


def write_kubeconfigs(
    files: K8sFiles, server: str, pki: ClusterPki, components: Sequence[str] | None = None
) -> None:
    """One kubeconfig (mode 0600) per component of ``KUBECONFIG_USERS`` (or those named)."""
    for component in KUBECONFIG_USERS if components is None else components:
        user = KUBECONFIG_USERS[component]
        path = files.admin_kubeconfig if component == "admin" else files.kubeconfig(component)
        path.write_text(kubeconfig_text(server, pki.ca_cert, user, pki.token(user)))
        path.chmod(0o600)


def build_k8s_parts(
    layout: StackLayout,
    ports: Mapping[str, int],
    builds: K8sBuildOutputs,
    pki: ClusterPki,
    files: K8sFiles,
    *,
    service_cidr: str = SERVICE_CIDR,
) -> list[Part]:
    """The Kubernetes parts, in start order (each needs the one before it answering).

    ``service_cidr`` moves the Service range (a second cluster beside the stack's, in tests,
    so the two proxies' loopback addresses never meet)."""
    etcd_url = f"http://{HOST}:{ports['etcd']}"
    api = _apiserver_url(ports)
    serving = [f"--tls-cert-file={pki.serving_cert}", f"--tls-private-key-file={pki.serving_key}"]
    low, high = NODE_PORT_RANGE
    agent_command = [sys.executable, "-m", "refstack.node", "--config"]
    return [
        Part(
            "etcd",
            Program(
                "etcd",
                [
                    str(builds.etcd_binary),
                    "--name=chaosgate",
                    f"--data-dir={files.etcd_data}",
                    f"--listen-client-urls={etcd_url}",
                    f"--advertise-client-urls={etcd_url}",
                    f"--listen-peer-urls=http://{HOST}:{ports['etcd_peer']}",
                    f"--initial-advertise-peer-urls=http://{HOST}:{ports['etcd_peer']}",
                    f"--initial-cluster=chaosgate=http://{HOST}:{ports['etcd_peer']}",
                    # a throwaway local cluster: no fsync keeps the API server fast on slow disks
                    "--unsafe-no-fsync",
                    "--log-level=warn",
                ],
                stop_wait_s=20,
            ),
            etcd_url,
            f"{etcd_url}/health",
        ),
        Part(
            "kube-apiserver",
            Program(
                "kube-apiserver",
                [
                    str(builds.kube_apiserver),
                    f"--etcd-servers={etcd_url}",
                    f"--bind-address={HOST}",
                    f"--advertise-address={HOST}",
                    f"--secure-port={ports['kube_apiserver']}",
                    *serving,
                    f"--token-auth-file={pki.token_file}",
                    "--authorization-mode=RBAC",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    f"--service-account-key-file={pki.sa_pub}",
                    f"--service-account-signing-key-file={pki.sa_key}",
                    f"--service-cluster-ip-range={service_cidr}",
                    f"--service-node-port-range={low}-{high}",
                    # the reconciler refuses a loopback advertise address
                    "--endpoint-reconciler-type=none",
                    # kubectl logs: the node's kubelet API at its InternalIP (its Hostname does
                    # not resolve), verified with the cluster CA, with a client certificate
                    "--kubelet-preferred-address-types=InternalIP",
                    f"--kubelet-certificate-authority={pki.ca_cert}",
                    f"--kubelet-client-certificate={pki.kubelet_client_cert}",
                    f"--kubelet-client-key={pki.kubelet_client_key}",
                    "--profiling=false",
                ],
                stop_wait_s=20,
            ),
            api,
            f"{api}/readyz",
        ),
        Part(
            "kube-controller-manager",
            Program(
                "kube-controller-manager",
                [
                    str(builds.kube_controller_manager),
                    f"--kubeconfig={files.kubeconfig('controller-manager')}",
                    f"--authentication-kubeconfig={files.kubeconfig('controller-manager')}",
                    f"--authorization-kubeconfig={files.kubeconfig('controller-manager')}",
                    f"--bind-address={HOST}",
                    f"--secure-port={ports['kube_controller_manager']}",
                    *serving,
                    "--leader-elect=false",
                    f"--service-account-private-key-file={pki.sa_key}",
                    f"--root-ca-file={pki.ca_cert}",
                    "--use-service-account-credentials=true",
                    "--profiling=false",
                ],
            ),
            f"https://{HOST}:{ports['kube_controller_manager']}",
            f"https://{HOST}:{ports['kube_controller_manager']}/healthz",
        ),
        Part(
            "kube-scheduler",
            Program(
                "kube-scheduler",
                [
                    str(builds.kube_scheduler),
                    f"--kubeconfig={files.kubeconfig('scheduler')}",
                    f"--authentication-kubeconfig={files.kubeconfig('scheduler')}",
                    f"--authorization-kubeconfig={files.kubeconfig('scheduler')}",
                    f"--bind-address={HOST}",
                    f"--secure-port={ports['kube_scheduler']}",
                    *serving,
                    "--leader-elect=false",
                    "--profiling=false",
                ],
            ),
            f"https://{HOST}:{ports['kube_scheduler']}",
            f"https://{HOST}:{ports['kube_scheduler']}/healthz",
        ),
        Part(
            "node-agent",
            Program("node-agent", [*agent_command, str(files.node_config)], stop_wait_s=45),
            f"http://{HOST}:{ports['node_agent']}",
            f"http://{HOST}:{ports['node_agent']}/healthz",
        ),
        Part(
            "service-proxy",
            Program(
                "service-proxy",
                [sys.executable, "-m", "refstack.proxy", "--config", str(files.node_config)],
            ),
            f"http://{HOST}:{ports['service_proxy']}",
            f"http://{HOST}:{ports['service_proxy']}/healthz",
        ),
    ]


def kubernetes_service_ip(service_cidr: str = SERVICE_CIDR) -> str:
    """The ``kubernetes`` Service's ClusterIP (the range's first address), named in the
    serving certificate."""
    return str(next(ipaddress.ip_network(service_cidr).hosts()))
