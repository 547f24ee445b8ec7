"""Rendered objects checked against the OpenAPI v3 schemas of the Kubernetes release the local
control plane is built from (``k8s.io/kubernetes`` in Go's module cache, pinned by
``refstack/control-plane/go.mod``): every field known (as ``kubectl --validate=strict`` does),
of its type, required ones present. Offline: the server-side dry run of
``tests/integration/k8s/test_manifests.py`` applies the same objects to a real API server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

__all__ = ["schema_problems"]

REPO_ROOT = Path(__file__).resolve().parents[3]
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
}


@cache
def _spec_dir() -> Path:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go is not installed: no module cache holding the Kubernetes API schemas")
    found = re.search(
        r"^\s*k8s\.io/kubernetes (v\S+)",
        (REPO_ROOT / "refstack/control-plane/go.mod").read_text(),
        re.M,
    )
    assert found, "refstack/control-plane/go.mod pins no k8s.io/kubernetes"
    cache_dir = subprocess.run(
        [go, "env", "GOMODCACHE"], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()
    spec = Path(cache_dir) / f"k8s.io/kubernetes@{found.group(1)}" / "api/openapi-spec/v3"
    if not spec.is_dir():
        pytest.skip(f"{spec} is absent: build the control plane (`chaosgate stack build --k8s`)")
    return spec


@cache
def _schemas(api_version: str) -> dict[str, Any]:
    group, _, version = api_version.rpartition("/")
    name = f"apis__{group}__{version}_openapi.json" if group else f"api__{version}_openapi.json"
    path = _spec_dir() / name
    assert path.is_file(), f"no OpenAPI schema for apiVersion {api_version!r} ({path})"
    schemas: dict[str, Any] = json.loads(path.read_text())["components"]["schemas"]
    return schemas


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    while True:
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        elif "allOf" in schema and len(schema["allOf"]) == 1:
            schema = schema["allOf"][0]
        else:
            return schema


def _walk(value: Any, schema: dict[str, Any], schemas: dict[str, Any], at: str) -> Iterator[str]:
    schema = _resolve(schema, schemas)
    if "oneOf" in schema:  # IntOrString
        kinds = tuple(t for option in schema["oneOf"] for t in _TYPES[option["type"]])
        if isinstance(value, bool) or not isinstance(value, kinds):
            yield f"{at}: {value!r} is not one of {[o['type'] for o in schema['oneOf']]}"
        return
    expected = schema.get("type")
    if expected is not None and (
        isinstance(value, bool) != (expected == "boolean")
        or not isinstance(value, _TYPES[expected])
    ):
        yield f"{at}: {value!r} is not of type {expected}"
        return
    if isinstance(value, dict):
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        for key in schema.get("required", []):
            if key not in value:
                yield f"{at}: required field {key!r} missing"
        for key, item in value.items():
            if properties is not None and key in properties:
                yield from _walk(item, properties[key], schemas, f"{at}.{key}")
            elif isinstance(extra, dict):
                yield from _walk(item, extra, schemas, f"{at}.{key}")
            elif properties is not None:
                yield f"{at}: unknown field {key!r}"
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _walk(item, schema["items"], schemas, f"{at}[{index}]")


def schema_problems(obj: dict[str, Any]) -> list[str]:
    """What the Kubernetes API's schema for ``obj``'s apiVersion and kind refuses (none: [])."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    schemas = _schemas(api_version)
    group, _, version = api_version.rpartition("/")
    names = [
        name
        for name, schema in schemas.items()
        if {"group": group, "version": version, "kind": kind}
        in schema.get("x-kubernetes-group-version-kind", [])
    ]
    assert names, f"no schema for {api_version} {kind}"
    where = f"{kind}/{obj['metadata']['name']}"
    return list(_walk(obj, schemas[names[0]], schemas, where))
