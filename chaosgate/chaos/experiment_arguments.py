"""The values an experiment passes to its Python activities, checked before the run.

chaoslib binds an activity's ``arguments`` to the function's signature (a missing or unknown
argument is refused) but not their types or sizes. :func:`check_arguments` checks each value
that is not a ``${name}`` substitution against the parameter's type hint (strictly: ``"3"`` is
no int, ``true`` no number) and within bounds that follow from the argument's name:

- ``*_ratio``: a share from 0 to 1; ``*_percent``: 0 to 100;
- ``*_s``, ``timeout``, ``duration``: seconds from 0 to 3600 (the target's deadline bound);
  ``*_ms``: milliseconds from 0 to 3,600,000;
- any other number: finite, at most :data:`MAX_ARGUMENT` in size.
"""

from __future__ import annotations

import functools
import importlib
import math
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from chaosgate.chaos.experiment_errors import ExperimentError
from chaosgate.chaos.experiment_kinds import python_calls
from chaosgate.target_env import quote
from chaosgate.target_values import MAX_DEADLINE_S

__all__ = ["MAX_ARGUMENT", "argument_bounds", "check_arguments"]

MAX_ARGUMENT = 1_000_000


def argument_bounds(name: str) -> tuple[float, float, str]:
    """``(low, high, what)`` for a numeric argument called ``name``."""
    if name == "ratio" or name.endswith("_ratio"):
        return 0.0, 1.0, "a share from 0 to 1"
    if name.endswith("_percent"):
        return 0.0, 100.0, "a percentage from 0 to 100"
    if name.endswith("_ms"):
        return 0.0, MAX_DEADLINE_S * 1000, f"milliseconds from 0 to {MAX_DEADLINE_S * 1000:g}"
    if name.endswith("_per_s"):
        return 0.0, MAX_ARGUMENT, f"a rate a second from 0 to {MAX_ARGUMENT}"
    if name.endswith("_s") or name in ("timeout", "duration", "seconds"):
        return 0.0, MAX_DEADLINE_S, f"seconds from 0 to {MAX_DEADLINE_S:g}"
    return -MAX_ARGUMENT, MAX_ARGUMENT, f"a number from {-MAX_ARGUMENT} to {MAX_ARGUMENT}"


@functools.cache
def _adapter(hint: Any) -> TypeAdapter[Any] | None:
    try:
        return TypeAdapter(hint)
    except Exception:  # a hint pydantic cannot build a schema for: the type is not checked
        return None


def _hints(module: str, func: str) -> Mapping[str, Any]:
    try:
        function = getattr(importlib.import_module(module), func)
        return typing.get_type_hints(function)
    except Exception:  # chaoslib has imported it already; unresolvable hints: not checked
        return {}


def _type_name(hint: Any) -> str:
    text = str(hint) if not isinstance(hint, type) else hint.__name__
    return text.replace("typing.", "").replace("collections.abc.", "")


def _check_value(name: str, value: object, hint: Any, where: str) -> None:
    if isinstance(value, str) and "${" in value:
        return  # set from the configuration when the experiment runs
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high, what = argument_bounds(name)
        if not (math.isfinite(value) and low <= value <= high):
            raise ExperimentError(f"{where}: {quote(value)} is not {what}; give one in that range")
    if hint is None:
        return
    adapter = _adapter(hint)
    if adapter is None:
        return
    try:
        adapter.validate_python(value, strict=True)
    except ValidationError:
        raise ExperimentError(
            f"{where}: {quote(value)} is not of the type the activity takes "
            f"({_type_name(hint)}); fix the value"
        ) from None


def check_arguments(experiment: Mapping[str, Any], *, source: str) -> None:
    """Refuse the experiment at ``source`` when an argument of a Python activity has the wrong
    type or size; the activities' modules must have been imported (chaoslib's validation)."""
    for where, provider in python_calls(experiment):
        arguments = provider.get("arguments") or {}
        if not isinstance(arguments, dict):
            continue
        module, func = str(provider.get("module")), str(provider.get("func"))
        hints = _hints(module, func)
        for name, value in arguments.items():
            _check_value(
                str(name),
                value,
                hints.get(str(name)),
                f"{source}: {where}.arguments.{name} ({module}.{func})",
            )
