"""The local node's configuration: one YAML file read by the node agent and the service proxy.

``chaosgate stack up --k8s`` renders it into ``.stack/k8s/node.yaml``; both processes take
``--config PATH``. Every address is on loopback (127.0.0.0/8): pods get their own loopback IP
from ``pod_cidr``; a Service's ClusterIP ``a.b.c.d`` (from the API server's
``--service-cluster-ip-range``, never contacted) is served on ``127.b.c.d`` by the proxy
(:func:`service_loopback_ip`), and a NodePort on ``node_ip``.

```yaml
kubeconfig: /repo/.stack/k8s/node.kubeconfig
node_name: chaosgate-local
node_ip: 127.0.0.1
pod_cidr: 127.1.0.0/16
service_cidr: 10.96.0.0/12
apiserver_host: 127.0.0.1
apiserver_port: 6443
state_dir: /repo/.stack/k8s/node          # pod sandboxes (a container's working directory)
container_log_dir: /repo/.stack/k8s/pod-logs  # <namespace>_<pod>_<container>.log
agent_health_port: 10248                  # node agent: GET /healthz
kubelet_port: 10250                       # node agent: the kubelet API (HTTPS, kubectl logs)
kubelet_tls:                              # without it the kubelet API is not served
  cert: /repo/.stack/k8s/pki/serving.crt  # its serving certificate: must name node_ip
  key: /repo/.stack/k8s/pki/serving.key
  client_ca: /repo/.stack/k8s/pki/ca.crt  # signs the only client certificate answered
proxy_health_port: 10256                  # service proxy: GET /healthz
images:                                   # image repository (no tag) -> how to run it here
  chaosgate/restaurant:
    path: [/repo/.venv/bin]               # prepended to PATH
    env: {PYTHONPATH: /repo/stack/services}
    start_delay_s: 8                      # emulated sandbox + image start cost
  docker.io/colinianking/stress-ng:
    path: [/usr/bin]
    entrypoint: [stress-ng]
```
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "ImageSpec",
    "KubeletTls",
    "NodeConfig",
    "NodeConfigError",
    "image_repository",
    "load_node_config",
    "service_loopback_ip",
]

_FROZEN = ConfigDict(extra="forbid", frozen=True)


class NodeConfigError(Exception):
    """The node configuration file is missing or invalid; the message names the key."""


def _loopback_network(value: str) -> str:
    network = ipaddress.ip_network(value, strict=True)
    if not isinstance(network, ipaddress.IPv4Network) or not network.subnet_of(
        ipaddress.IPv4Network("127.0.0.0/8")
    ):
        raise ValueError(f"{value!r} is not inside 127.0.0.0/8; pods live on loopback here")
    return value


def _loopback_ip(value: str) -> str:
    address = ipaddress.ip_address(value)
    if not address.is_loopback:
        raise ValueError(f"{value!r} is not a loopback address; use one in 127.0.0.0/8")
    return value


def _ipv4_network(value: str) -> str:
    network = ipaddress.ip_network(value, strict=True)
    if not isinstance(network, ipaddress.IPv4Network) or network.prefixlen < 8:
        raise ValueError(f"{value!r} is not an IPv4 network of /8 or longer")
    return value


LoopbackNetwork = Annotated[str, AfterValidator(_loopback_network)]
LoopbackIp = Annotated[str, AfterValidator(_loopback_ip)]
Ipv4Network = Annotated[str, AfterValidator(_ipv4_network)]
Port = Annotated[int, Field(ge=1, le=65535)]


class ImageSpec(BaseModel):
    """What an image stands for on this node: programs on PATH, environment, entrypoint."""

    model_config = _FROZEN
    path: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    entrypoint: tuple[str, ...] = ()
    working_dir: str | None = None
    start_delay_s: float = Field(default=0.0, ge=0.0, le=300.0)


class KubeletTls(BaseModel):
    """The kubelet API's TLS files (:mod:`refstack.node.kubelet_api`)."""

    model_config = _FROZEN
    cert: Path
    key: Path
    client_ca: Path


class NodeConfig(BaseModel):
    model_config = _FROZEN
    kubeconfig: Path
    node_name: str = "chaosgate-local"
    node_ip: LoopbackIp = "127.0.0.1"
    pod_cidr: LoopbackNetwork = "127.1.0.0/16"
    service_cidr: Ipv4Network = "10.96.0.0/12"
    apiserver_host: LoopbackIp = "127.0.0.1"
    apiserver_port: Port = 6443
    state_dir: Path
    container_log_dir: Path
    agent_health_port: Port = 10248
    kubelet_port: Port = 10250  # reported as daemonEndpoints.kubeletEndpoint.Port
    kubelet_tls: KubeletTls | None = None
    proxy_health_port: Port = 10256
    images: dict[str, ImageSpec] = Field(default_factory=dict)

    def image(self, reference: str) -> ImageSpec | None:
        """The spec of ``reference`` (tag or digest ignored), or None when it is not mapped."""
        return self.images.get(image_repository(reference))


def image_repository(reference: str) -> str:
    """``reference`` without its tag or digest: ``a/b:1`` and ``a/b@sha256:..`` -> ``a/b``."""
    name = reference.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    return name


def service_loopback_ip(cluster_ip: str) -> str | None:
    """The loopback address a ClusterIP is served on: ``a.b.c.d`` -> ``127.b.c.d``.

    None for a headless Service (``None`` or empty) or a non-IPv4 address.
    """
    try:
        address = ipaddress.ip_address(cluster_ip)
    except ValueError:
        return None
    if not isinstance(address, ipaddress.IPv4Address):
        return None
    _, b, c, d = address.packed
    return f"127.{b}.{c}.{d}"


def load_node_config(path: Path) -> NodeConfig:
    """Read and check the node configuration at ``path``."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NodeConfigError(
            f"node config {str(path)!r} cannot be read ({exc.strerror or exc}); "
            "`chaosgate stack up --k8s` writes it"
        ) from None
    except yaml.YAMLError as exc:
        raise NodeConfigError(f"node config {str(path)!r} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise NodeConfigError(f"node config {str(path)!r}: the top level must be a mapping")
    try:
        return NodeConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise NodeConfigError(
            f"node config {str(path)!r}: {where}: {first['msg']} (got {first.get('input')!r})"
        ) from None
