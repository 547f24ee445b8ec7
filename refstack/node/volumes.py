"""A container's volumes as the kubelet resolves them (pure, but for :func:`make_empty_dirs`).

The node runs five volume sources, the ones the suite's manifests use:

- ``configMap`` and ``secret``: the object's keys as files (``binaryData`` included), or only
  the ``items`` listed (``key`` -> ``path``, ``mode``); ``defaultMode`` (0644 unless set);
  ``optional``;
- ``downwardAPI``: ``fieldRef`` items of the pod's metadata (name, namespace, uid, labels,
  annotations, one label or annotation);
- ``projected``: any mix of the above and ``serviceAccountToken`` (a TokenRequest for the
  pod's ``serviceAccountName``, with the projection's ``audience`` and ``expirationSeconds``,
  bound to the pod) — what the API server's ServiceAccount admission adds as
  ``kube-api-access-*`` at ``/var/run/secrets/kubernetes.io/serviceaccount`` (``token``,
  ``ca.crt`` from the ``kube-root-ca.crt`` ConfigMap, ``namespace``);
- ``emptyDir``: a directory ``<pod dir>/volumes/<name>`` shared by the pod's containers, kept
  across container restarts and agent restarts, removed with the pod. ``medium: Memory`` is
  a directory too and ``sizeLimit`` is not enforced.

A files volume's content is read when a container starts and never updated while it runs (a
ConfigMap changed later reaches a container when it restarts); a token is not refreshed, so
a container that runs longer than the token's ``expirationSeconds`` holds an expired token.
Files are owned by the agent's user; ``fsGroup`` is not applied (containers run as the agent's
user here). Any other source (hostPath, persistentVolumeClaim, ...), a projected source of
another kind, ``subPathExpr`` or a ``mountPropagation`` makes :func:`unsupported_volumes` name
it: the pod is failed with that message, never started without the volume.

The mounts themselves are made by :mod:`refstack.node.mountns`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from refstack.node.mountns import Mount, VolumeFile
from refstack.node.podenv import ContainerEnvError

__all__ = [
    "TokenProjection",
    "VolumeError",
    "VolumeInputs",
    "VolumeReferences",
    "container_mounts",
    "make_empty_dirs",
    "unsupported_volumes",
    "volume_references",
]

DEFAULT_MODE = 0o644
DEFAULT_TOKEN_EXPIRATION_S = 3600
_SOURCES = ("configMap", "secret", "downwardAPI", "projected", "emptyDir")
_PROJECTED = ("configMap", "secret", "downwardAPI", "serviceAccountToken")
_RUNS = (
    "it runs configMap, secret, downwardAPI, emptyDir and projected "
    "(serviceAccountToken, configMap, secret, downwardAPI) volumes"
)
_ONE_KEY = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


class VolumeError(ContainerEnvError):
    """A volume cannot be filled yet (a missing ConfigMap, Secret, key or ServiceAccount);
    the container waits as ``CreateContainerConfigError`` and is retried."""


@dataclass(frozen=True)
class TokenProjection:
    """A service-account token to ask for: ``audience`` "" is the API server's own."""

    audience: str
    expiration_s: int


@dataclass(frozen=True)
class VolumeReferences:
    """What the API must be asked for to fill a container's volumes."""

    config_maps: frozenset[str]
    secrets: frozenset[str]
    tokens: frozenset[TokenProjection]


@dataclass(frozen=True)
class VolumeInputs:
    """What the API answered: the objects found (a missing one is absent) and the tokens."""

    config_maps: Mapping[str, Mapping[str, Any]]
    secrets: Mapping[str, Mapping[str, Any]]
    tokens: Mapping[TokenProjection, str]


def _kind(volume: Mapping[str, Any]) -> str:
    return next((k for k in volume if k != "name"), "")


def _volumes(pod: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(v.get("name")): v for v in (pod.get("spec") or {}).get("volumes") or ()}


def _containers(pod: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    spec = pod.get("spec") or {}
    yield from spec.get("initContainers") or ()
    yield from spec.get("containers") or ()


def unsupported_volumes(pod: Mapping[str, Any]) -> list[str]:
    """Why this node cannot give the pod its volumes (empty when it can), one line each."""
    problems: list[str] = []
    volumes = _volumes(pod)
    for name, volume in volumes.items():
        kind = _kind(volume)
        if kind not in _SOURCES:
            problems.append(f"volume {name!r} ({kind}) is not run by this node; {_RUNS}")
            continue
        spec = volume[kind] or {}
        if kind == "projected":
            for source in spec.get("sources") or ():
                inner = next(iter(source), "")
                if inner not in _PROJECTED:
                    problems.append(
                        f"volume {name!r}: projected source {inner!r} is not run by this "
                        f"node; {_RUNS}"
                    )
                elif inner == "downwardAPI":
                    problems.extend(_downward_problems(name, source[inner]))
        elif kind == "downwardAPI":
            problems.extend(_downward_problems(name, spec))
    for container in _containers(pod):
        for mount in container.get("volumeMounts") or ():
            where = f"container {container.get('name')!r}, mount {mount.get('mountPath')!r}"
            if str(mount.get("name")) not in volumes:
                problems.append(f"{where}: no volume named {mount.get('name')!r} in the pod")
            if mount.get("subPathExpr"):
                problems.append(f"{where}: subPathExpr is not run by this node; use subPath")
            if mount.get("mountPropagation") not in (None, "None"):
                problems.append(f"{where}: mountPropagation is not run by this node")
    return problems


def _downward_problems(volume: str, spec: Mapping[str, Any]) -> list[str]:
    return [
        f"volume {volume!r}: downward API item {item.get('path')!r} uses resourceFieldRef, "
        "not run by this node; use fieldRef"
        for item in spec.get("items") or ()
        if not item.get("fieldRef")
    ]


def _mounted(pod: Mapping[str, Any], container: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    volumes = _volumes(pod)
    names = {str(m.get("name")) for m in container.get("volumeMounts") or ()}
    return [volumes[n] for n in sorted(names) if n in volumes]


def _file_sources(volume: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    kind = _kind(volume)
    spec = volume.get(kind) or {}
    if kind == "projected":
        for source in spec.get("sources") or ():
            inner = next(iter(source), "")
            yield inner, source[inner] or {}
    elif kind != "emptyDir":
        yield kind, spec


def _token(spec: Mapping[str, Any]) -> TokenProjection:
    return TokenProjection(
        audience=str(spec.get("audience") or ""),
        expiration_s=int(spec.get("expirationSeconds") or DEFAULT_TOKEN_EXPIRATION_S),
    )


def volume_references(pod: Mapping[str, Any], container: Mapping[str, Any]) -> VolumeReferences:
    config_maps: set[str] = set()
    secrets: set[str] = set()
    tokens: set[TokenProjection] = set()
    for volume in _mounted(pod, container):
        for kind, spec in _file_sources(volume):
            if kind == "configMap":
                config_maps.add(str(spec.get("name", "")))
            elif kind == "secret":
                secrets.add(str(spec.get("secretName") or spec.get("name") or ""))
            elif kind == "serviceAccountToken":
                tokens.add(_token(spec))
    return VolumeReferences(frozenset(config_maps), frozenset(secrets), frozenset(tokens))


def _config_map_bytes(obj: Mapping[str, Any]) -> dict[str, bytes]:
    data = {str(k): str(v).encode() for k, v in (obj.get("data") or {}).items()}
    data.update({str(k): base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return data


def _secret_bytes(obj: Mapping[str, Any]) -> dict[str, bytes]:
    data = {str(k): base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    data.update({str(k): str(v).encode() for k, v in (obj.get("stringData") or {}).items()})
    return data


def _relative(path: str, volume: str) -> str:
    pure = PurePosixPath(path)
    if not path or pure.is_absolute() or ".." in pure.parts:
        raise VolumeError(f"volume {volume!r}: path {path!r} must be relative, without '..'")
    return str(pure)


def _mode(value: Any, default: int) -> int:
    return default if value is None else int(value)


def _object_files(
    label: str,
    data: Mapping[str, bytes] | None,
    spec: Mapping[str, Any],
    default_mode: int,
    volume: str,
) -> list[VolumeFile]:
    optional = bool(spec.get("optional"))
    if data is None:
        if optional:
            return []
        raise VolumeError(
            f"{label} not found (volume {volume!r}); create it or mark the source optional"
        )
    items = spec.get("items")
    if not items:
        return [VolumeFile(_relative(k, volume), v, default_mode) for k, v in sorted(data.items())]
    files: list[VolumeFile] = []
    for item in items:
        key = str(item.get("key", ""))
        if key not in data:
            if optional:
                continue
            raise VolumeError(
                f"{label} has no key {key!r} (volume {volume!r}, items); add it or mark the "
                "source optional"
            )
        path = _relative(str(item.get("path", "")), volume)
        files.append(VolumeFile(path, data[key], _mode(item.get("mode"), default_mode)))
    return files


def _format_map(values: Mapping[str, Any]) -> str:
    return "\n".join(f"{k}={json.dumps(str(v))}" for k, v in sorted(values.items()))


def _field(pod: Mapping[str, Any], path: str, volume: str) -> str:
    meta = pod.get("metadata") or {}
    if path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return str(meta.get(path.split(".", 1)[1], ""))
    if path in ("metadata.labels", "metadata.annotations"):
        return _format_map(meta.get(path.split(".", 1)[1]) or {})
    match = _ONE_KEY.match(path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise VolumeError(
        f"volume {volume!r}: downward API fieldPath {path!r} is not supported; use "
        "metadata.name/namespace/uid/labels/annotations or one label or annotation"
    )


def _downward_files(
    pod: Mapping[str, Any], spec: Mapping[str, Any], default_mode: int, volume: str
) -> list[VolumeFile]:
    return [
        VolumeFile(
            _relative(str(item.get("path", "")), volume),
            _field(pod, str((item.get("fieldRef") or {}).get("fieldPath", "")), volume).encode(),
            _mode(item.get("mode"), default_mode),
        )
        for item in spec.get("items") or ()
    ]


def _volume_files(
    pod: Mapping[str, Any], volume: Mapping[str, Any], inputs: VolumeInputs
) -> tuple[VolumeFile, ...]:
    name = str(volume.get("name"))
    namespace = str((pod.get("metadata") or {}).get("namespace", ""))
    kind = _kind(volume)
    default_mode = _mode((volume.get(kind) or {}).get("defaultMode"), DEFAULT_MODE)
    files: list[VolumeFile] = []
    for source, spec in _file_sources(volume):
        mode = default_mode if kind == "projected" else _mode(spec.get("defaultMode"), DEFAULT_MODE)
        if source == "configMap":
            found = inputs.config_maps.get(str(spec.get("name", "")))
            label = f'configmap "{spec.get("name")}" in namespace {namespace!r}'
            data = None if found is None else _config_map_bytes(found)
            files.extend(_object_files(label, data, spec, mode, name))
        elif source == "secret":
            secret_name = str(spec.get("secretName") or spec.get("name") or "")
            found = inputs.secrets.get(secret_name)
            label = f'secret "{secret_name}" in namespace {namespace!r}'
            data = None if found is None else _secret_bytes(found)
            files.extend(_object_files(label, data, spec, mode, name))
        elif source == "downwardAPI":
            files.extend(_downward_files(pod, spec, mode, name))
        elif source == "serviceAccountToken":
            token = inputs.tokens[_token(spec)]
            path = _relative(str(spec.get("path", "")), name)
            files.append(VolumeFile(path, token.encode(), _mode(spec.get("mode"), mode)))
    return tuple(files)


def container_mounts(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    inputs: VolumeInputs,
    volumes_dir: Path,
) -> tuple[Mount, ...]:
    """The container's volumeMounts with what each holds (raises :class:`VolumeError`)."""
    volumes = _volumes(pod)
    contents: dict[str, tuple[VolumeFile, ...]] = {}
    mounts: list[Mount] = []
    for mount in container.get("volumeMounts") or ():
        name = str(mount.get("name"))
        volume = volumes[name]
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            sub_path = _relative(sub_path, name)
        path = str(mount["mountPath"])
        if _kind(volume) == "emptyDir":
            read_only = bool(mount.get("readOnly"))
            source = str(volumes_dir / name)
            mounts.append(Mount(name, path, read_only, sub_path, source=source))
            continue
        if name not in contents:
            contents[name] = _volume_files(pod, volume, inputs)
        # the kubelet mounts these sources read-only whatever the mount says
        mounts.append(Mount(name, path, True, sub_path, files=contents[name]))
    return tuple(mounts)


def make_empty_dirs(mounts: Sequence[Mount]) -> None:
    """Create the emptyDir directories (and subPaths) the mounts bind, mode 0777 as the
    kubelet makes them; existing ones keep their content."""
    for mount in mounts:
        if mount.source is None:
            continue
        base = Path(mount.source)
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o777)
        if mount.sub_path:
            (base / mount.sub_path).mkdir(parents=True, exist_ok=True)
