"""A container's environment and command line, as the kubelet builds them (pure).

Precedence, lowest first: the agent's ``HOME``, ``HOSTNAME`` (the pod's hostname) and ``PATH``
(the image's ``path`` entries before the agent's own PATH); the image's ``env``; the service
variables; ``envFrom`` sources in order; ``env`` entries in order. A service variable is
only added when the container does not define the same name, as in the kubelet.

``$(VAR)`` in ``env`` values refers to variables defined earlier in the list (``envFrom``
included) or to service variables; in ``command``/``args`` to any variable the kubelet
sets (not the image's). An unknown reference stays as written, ``$$`` is a literal ``$``.
ConfigMaps and Secrets are handed in by the caller (:func:`env_references` names the ones a
container needs), so building the environment does no I/O.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from kubernetes.utils.quantity import parse_quantity

from refstack.node_config import ImageSpec

__all__ = [
    "ContainerEnvError",
    "EnvReferences",
    "PodFacts",
    "container_argv",
    "env_references",
    "expand",
    "kube_env",
    "process_env",
]

_parse_quantity: Callable[[str], Decimal] = parse_quantity
_LABEL_PATH = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class ContainerEnvError(Exception):
    """The environment cannot be built yet (a missing ConfigMap, key, unsupported reference).

    The kubelet reports it as the container's waiting reason ``CreateContainerConfigError``
    and retries; the message says what is missing.
    """


@dataclass(frozen=True)
class PodFacts:
    """What the agent knows of a pod that its spec does not say."""

    pod_ip: str
    host_ip: str
    allocatable: Mapping[str, str] = field(default_factory=dict)  # the node's cpu, memory, ...


@dataclass(frozen=True)
class EnvReferences:
    """The ConfigMaps and Secrets (by name, in the pod's namespace) a container reads."""

    config_maps: frozenset[str]
    secrets: frozenset[str]


def expand(text: str, *scopes: Mapping[str, str]) -> str:
    """``text`` with each ``$(NAME)`` found in the first scope that has it; ``$$`` -> ``$``.

    A reference that no scope defines, or that is not closed, is kept as written.
    """
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        after = text[i + 1]
        if after == "$":
            out.append("$")
            i += 2
        elif after == "(":
            close = text.find(")", i + 2)
            if close < 0:
                out.append("$(")
                i += 2
                continue
            name = text[i + 2 : close]
            out.append(next((s[name] for s in scopes if name in s), f"$({name})"))
            i = close + 1
        else:
            out.append("$" + after)
            i += 2
    return "".join(out)


def env_references(container: Mapping[str, Any]) -> EnvReferences:
    config_maps: set[str] = set()
    secrets: set[str] = set()
    for source in container.get("envFrom") or ():
        if source.get("configMapRef"):
            config_maps.add(source["configMapRef"].get("name", ""))
        if source.get("secretRef"):
            secrets.add(source["secretRef"].get("name", ""))
    for var in container.get("env") or ():
        value_from = var.get("valueFrom") or {}
        if value_from.get("configMapKeyRef"):
            config_maps.add(value_from["configMapKeyRef"].get("name", ""))
        if value_from.get("secretKeyRef"):
            secrets.add(value_from["secretKeyRef"].get("name", ""))
    return EnvReferences(frozenset(config_maps), frozenset(secrets))


def _config_map_data(obj: Mapping[str, Any]) -> dict[str, str]:
    data = {str(k): str(v) for k, v in (obj.get("data") or {}).items()}
    for key, value in (obj.get("binaryData") or {}).items():
        data[str(key)] = base64.b64decode(value).decode("utf-8", "surrogateescape")
    return data


def _secret_data(obj: Mapping[str, Any]) -> dict[str, str]:
    data = {
        str(k): base64.b64decode(v).decode("utf-8", "surrogateescape")
        for k, v in (obj.get("data") or {}).items()
    }
    data.update({str(k): str(v) for k, v in (obj.get("stringData") or {}).items()})
    return data


class _Sources:
    def __init__(
        self,
        namespace: str,
        config_maps: Mapping[str, Mapping[str, Any]],
        secrets: Mapping[str, Mapping[str, Any]],
    ) -> None:
        self.namespace = namespace
        self.config_maps = config_maps
        self.secrets = secrets

    def data(self, kind: str, name: str, optional: bool) -> dict[str, str] | None:
        if kind == "configmap":
            found = self.config_maps.get(name)
            data = None if found is None else _config_map_data(found)
        else:
            found = self.secrets.get(name)
            data = None if found is None else _secret_data(found)
        if data is None and not optional:
            raise ContainerEnvError(
                f'{kind} "{name}" not found in namespace {self.namespace!r}; create it or '
                "mark the reference optional"
            )
        return data

    def key(self, kind: str, ref: Mapping[str, Any]) -> str | None:
        name, key, optional = ref.get("name", ""), ref.get("key", ""), bool(ref.get("optional"))
        data = self.data(kind, name, optional)
        if data is None:
            return None
        if key not in data:
            if optional:
                return None
            label = "ConfigMap" if kind == "configmap" else "Secret"
            raise ContainerEnvError(
                f"couldn't find key {key!r} in {label} {self.namespace}/{name}; add it or "
                "mark the reference optional"
            )
        return data[key]


def _field_value(pod: Mapping[str, Any], path: str, facts: PodFacts) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    simple: dict[str, str] = {
        "metadata.name": str(meta.get("name", "")),
        "metadata.namespace": str(meta.get("namespace", "")),
        "metadata.uid": str(meta.get("uid", "")),
        "spec.nodeName": str(spec.get("nodeName", "")),
        "spec.serviceAccountName": str(spec.get("serviceAccountName", "")),
        "status.hostIP": facts.host_ip,
        "status.hostIPs": facts.host_ip,
        "status.podIP": facts.pod_ip,
        "status.podIPs": facts.pod_ip,
    }
    if path in simple:
        return simple[path]
    match = _LABEL_PATH.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ContainerEnvError(
        f"fieldRef {path!r} is not supported; use metadata.name/namespace/uid, "
        "metadata.labels['k'], metadata.annotations['k'], spec.nodeName, "
        "spec.serviceAccountName, status.hostIP(s) or status.podIP(s)"
    )


def _resource_value(
    pod: Mapping[str, Any], container_name: str, ref: Mapping[str, Any], facts: PodFacts
) -> str:
    target = ref.get("containerName") or container_name
    resource = str(ref.get("resource", ""))
    containers = (pod.get("spec") or {}).get("containers") or ()
    spec = next((c for c in containers if c.get("name") == target), None)
    if spec is None:
        raise ContainerEnvError(f"resourceFieldRef names container {target!r}, not in the pod")
    kind, _, name = resource.partition(".")
    if kind not in ("limits", "requests") or name not in ("cpu", "memory", "ephemeral-storage"):
        raise ContainerEnvError(
            f"resourceFieldRef resource {resource!r} is not supported; use limits.* or "
            "requests.* of cpu, memory or ephemeral-storage"
        )
    resources = spec.get("resources") or {}
    raw = (resources.get(kind) or {}).get(name)
    if raw is None and kind == "requests":
        raw = (resources.get("limits") or {}).get(name)
    if raw is None:
        raw = facts.allocatable.get(name, "0") if kind == "limits" else "0"
    value = _parse_quantity(str(raw))
    divisor = _parse_quantity(str(ref.get("divisor") or "1"))
    if divisor <= 0:
        raise ContainerEnvError(f"resourceFieldRef divisor {ref.get('divisor')!r} must be > 0")
    if name == "cpu":
        return str(math.ceil(math.ceil(value * 1000) / math.ceil(divisor * 1000)))
    return str(math.ceil(value / divisor))


def kube_env(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    *,
    facts: PodFacts,
    service_env: Mapping[str, str],
    config_maps: Mapping[str, Mapping[str, Any]],
    secrets: Mapping[str, Mapping[str, Any]],
) -> dict[str, str]:
    """The variables the kubelet sets: ``envFrom``, ``env``, then the service variables."""
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    sources = _Sources(namespace, config_maps, secrets)
    env: dict[str, str] = {}
    for source in container.get("envFrom") or ():
        prefix = str(source.get("prefix") or "")
        for kind, ref in (
            ("configmap", source.get("configMapRef")),
            ("secret", source.get("secretRef")),
        ):
            if not ref:
                continue
            data = sources.data(kind, ref.get("name", ""), bool(ref.get("optional")))
            for key, text in (data or {}).items():
                if key and "=" not in key:
                    env[prefix + key] = text
    for var in container.get("env") or ():
        name = str(var["name"])
        value_from = var.get("valueFrom")
        if not value_from:
            env[name] = expand(str(var.get("value") or ""), env, service_env)
            continue
        value: str | None
        if value_from.get("fieldRef"):
            value = _field_value(pod, str(value_from["fieldRef"].get("fieldPath", "")), facts)
        elif value_from.get("resourceFieldRef"):
            value = _resource_value(
                pod, str(container["name"]), value_from["resourceFieldRef"], facts
            )
        elif value_from.get("configMapKeyRef"):
            value = sources.key("configmap", value_from["configMapKeyRef"])
        elif value_from.get("secretKeyRef"):
            value = sources.key("secret", value_from["secretKeyRef"])
        else:
            raise ContainerEnvError(
                f"env {name!r}: valueFrom {sorted(value_from)!r} is not supported here; use "
                "fieldRef, resourceFieldRef, configMapKeyRef or secretKeyRef"
            )
        if value is not None:
            env[name] = value
    for name, value in service_env.items():
        env.setdefault(name, value)
    return env


def process_env(
    kube: Mapping[str, str],
    *,
    image: ImageSpec,
    hostname: str,
    agent_env: Mapping[str, str],
) -> dict[str, str]:
    """The whole environment of the container's process (the agent's own env is not inherited)."""
    base_path = image.env.get("PATH") or agent_env.get("PATH") or "/usr/bin:/bin"
    env = {"HOME": agent_env.get("HOME", "/"), "HOSTNAME": hostname}
    env.update(image.env)
    env["PATH"] = ":".join([*image.path, base_path])
    env.update(kube)
    return env


def container_argv(
    container: Mapping[str, Any], image: ImageSpec, kube: Mapping[str, str]
) -> list[str]:
    """``command`` (else the image's ``entrypoint``) then ``args``, with ``$(VAR)`` expanded.

    Raises :class:`ContainerEnvError` when there is nothing to run.
    """
    command: Sequence[str] = container.get("command") or image.entrypoint
    argv = [expand(str(part), kube) for part in [*command, *(container.get("args") or ())]]
    if not argv:
        raise ContainerEnvError(
            f"container {container.get('name')!r} has no command and its image "
            f"{container.get('image')!r} has no entrypoint in the node config; set the "
            "container's command or the image's entrypoint"
        )
    return argv
