"""Reading an experiment file: JSON (``.json``) or YAML (``.yaml`` / ``.yml``), bounded.

The file is read as any user input is (:func:`chaosgate.input_files.read_input_text`: a regular
file only, without blocking, at most 1 MiB), JSON with its nesting bounded, YAML with the
bounded loader (:func:`chaosgate.safe_yaml.load_yaml`). Numbers that are not finite (``NaN``,
``Infinity``, ``1e400``, ``.nan``) are left for :func:`check_structure`, which names their
key. Every problem is one :class:`ExperimentError` naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaosgate.chaos.experiment_errors import ExperimentError
from chaosgate.input_files import InputFileError, read_input_text
from chaosgate.safe_yaml import MAX_YAML_DEPTH, YamlError, load_yaml

__all__ = ["EXPERIMENT_SUFFIXES", "MAX_EXPERIMENT_DEPTH", "read_experiment_file"]

EXPERIMENT_SUFFIXES = (".json", ".yaml", ".yml")
MAX_EXPERIMENT_DEPTH = MAX_YAML_DEPTH
_FIX = "give the path of an experiment file (.json, .yaml or .yml)"


def _depth(value: object) -> int:
    """How deep ``value`` nests (a scalar is 0), counted without recursion."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return deepest


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)  # NaN, Infinity and 1e400 load; check_structure names them
    except json.JSONDecodeError as exc:
        raise ExperimentError(
            f"{source}: line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg}); "
            "fix the JSON syntax there"
        ) from None
    except RecursionError:
        raise ExperimentError(
            f"{source}: nested more than {MAX_EXPERIMENT_DEPTH} levels deep; flatten it"
        ) from None


def read_experiment_file(path: str | Path) -> Any:
    """The document in the experiment file ``path`` (any JSON value; the caller checks it is
    an experiment); raises :class:`ExperimentError` naming the file."""
    source = str(path)
    suffix = Path(source).suffix.lower()
    if suffix not in EXPERIMENT_SUFFIXES:
        raise ExperimentError(
            f"{source}: is not a .json, .yaml or .yml file; {_FIX}"
            if source
            else f"{source!r}: is an empty path; {_FIX}"
        )
    try:
        text = read_input_text(source)
    except InputFileError as exc:
        raise ExperimentError(f"{source}: {exc.message(_FIX)}") from None
    if suffix == ".json":
        document = _parse_json(text, source)
    else:
        try:
            document = load_yaml(text)
        except YamlError as exc:
            raise ExperimentError(f"{source}: {exc}") from None
    if _depth(document) > MAX_EXPERIMENT_DEPTH:
        raise ExperimentError(
            f"{source}: nested more than {MAX_EXPERIMENT_DEPTH} levels deep; flatten it"
        )
    return document
