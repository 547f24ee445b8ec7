"""Spec files that Kubernetes activities apply (``spec_path`` arguments): where they are and
what they hold.

A relative ``spec_path`` is looked up in the current directory first (where chaosk8s itself
opens it), then in the chaosgate checkout (``CHAOSGATE_HOME``, the repository by default), so
``manifests/chaos/stress-cpu.yaml`` works whichever directory the runner starts in. The same
lookup serves the activities and the namespace allowlist, which reads the documents'
``metadata.namespace`` before anything runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from chaosgate.input_files import InputFileError, read_input_text
from refstack.launcher.layout import StackLayout

__all__ = ["SpecError", "load_spec_documents", "resolve_spec_path"]


class SpecError(Exception):
    """A spec file is missing, unreadable, or not Kubernetes objects."""


def resolve_spec_path(
    spec_path: str, *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> Path:
    """The file ``spec_path`` names: absolute as given, relative to ``cwd`` (the current
    directory) if it exists there, else relative to the chaosgate checkout."""
    path = Path(spec_path).expanduser()
    if path.is_absolute():
        candidates = [path]
    else:
        here = cwd if cwd is not None else Path.cwd()
        home = StackLayout.from_env(os.environ if env is None else env).repo_root
        candidates = [here / path, home / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = " nor ".join(repr(str(c)) for c in candidates)
    raise SpecError(
        f"spec file {spec_path!r} not found (neither {tried}); give a path relative to the "
        "current directory or to the chaosgate checkout, or an absolute one"
    )


def load_spec_documents(path: Path) -> list[dict[str, Any]]:
    """The objects in a ``.json`` file or a (multi-document) ``.yaml``/``.yml`` file."""
    try:
        text = read_input_text(path)  # a regular file, read without blocking, at most 1 MiB
    except InputFileError as exc:
        raise SpecError(f"spec file {str(path)!r} {exc}") from None
    try:
        if path.suffix == ".json":
            documents: list[Any] = [json.loads(text)]
        elif path.suffix in (".yaml", ".yml"):
            documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
        else:
            raise SpecError(
                f"spec file {str(path)!r} is neither .json nor .yaml/.yml; rename it to say which"
            )
    except (ValueError, yaml.YAMLError) as exc:
        raise SpecError(f"spec file {str(path)!r} is not valid JSON/YAML: {exc}") from None
    except RecursionError:
        raise SpecError(f"spec file {str(path)!r} is nested too deep; flatten it") from None
    if not documents:
        raise SpecError(f"spec file {str(path)!r} is empty; write a Kubernetes object in it")
    for index, doc in enumerate(documents):
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            raise SpecError(
                f"spec file {str(path)!r}: document {index} is not a Kubernetes object "
                "(a mapping with apiVersion, kind and metadata)"
            )
        metadata = doc.get("metadata", {})
        if not isinstance(metadata, dict):
            raise SpecError(f"spec file {str(path)!r}: document {index}: metadata is not a mapping")
    return documents
