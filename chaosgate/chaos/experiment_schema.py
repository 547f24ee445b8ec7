"""The shape of a Chaos Toolkit experiment, checked before chaoslib sees it.

chaoslib's own validation assumes each field has the JSON type it documents (``"method":
"kill"`` or a provider that is a string crash inside it); :func:`check_structure` checks every
field chaoslib reads for its type first, strictly (no coercion), and reports the first problem
as one :class:`ExperimentError` line: the file, the key path, the value as given, what is wrong
and how to fix it. It also refuses what chaoslib lets through: a number that is not finite
anywhere in the file, a pause, timeout or deadline outside 0..3600 s, a control whose module
cannot be found (chaoslib only logs it and runs without), and secrets that are not read from
the environment or written inline (a vault would be contacted during validation).

Keys chaoslib does not know are left alone (experiments may carry their own).
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from chaosgate.chaos.experiment_errors import ExperimentError
from chaosgate.target_env import dotted, quote
from chaosgate.target_values import MAX_DEADLINE_S

__all__ = ["MAX_SECONDS", "check_structure"]

MAX_SECONDS = MAX_DEADLINE_S  # pauses, timeouts and deadlines: the target's deadline bound


def _reject(reason: str) -> Any:
    raise PydanticCustomError("experiment_value", "{reason}", {"reason": reason})


def _seconds(value: object) -> object:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        _reject("is not a number of seconds; write one such as 10 (or a ${name} it is set by)")
    assert isinstance(value, int | float)
    if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
        _reject(f"is not a number of seconds from 0 to {MAX_SECONDS:g}; give one in that range")
    return value


def _text(value: object) -> object:
    if not isinstance(value, str):
        _reject("is not a string; write it in double quotes")
    assert isinstance(value, str)
    if not value.strip():
        _reject("is empty; give a non-empty string")
    return value


def _control_module(value: object) -> object:
    _text(value)
    assert isinstance(value, str)
    try:
        found = importlib.util.find_spec(value) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        _reject(
            "is not a Python module chaosgate can import (chaoslib would run without the "
            "control); install it, fix the name, or remove the control"
        )
    return value


def _secret(value: object) -> object:
    env = isinstance(value, dict) and value.get("type") == "env" and set(value) == {"type", "key"}
    if isinstance(value, str) or (env and isinstance(value, dict) and _text(value["key"])):
        return value
    _reject(
        'is not a secret chaosgate reads: write it inline as a string or {"type": "env", '
        '"key": "VARIABLE"} (other sources such as a vault would be contacted while validating)'
    )
    return value


def _one_of(*kinds: type, what: str) -> BeforeValidator:
    def check(value: object) -> object:
        if value is not None and not isinstance(value, kinds):
            _reject(f"is not {what}; fix its type")
        return value

    return BeforeValidator(check)


def _timeouts(value: object) -> object:
    if isinstance(value, list):
        if len(value) != 2:
            _reject("is not a timeout: give seconds, or [connect, read] seconds")
        for item in value:
            _seconds(item)
        return value
    return _seconds(value)


Text = Annotated[str, BeforeValidator(_text)]
Seconds = Annotated[float | str, BeforeValidator(_seconds)]
Arguments = dict[str, Any]
_STRICT = ConfigDict(strict=True, extra="allow", frozen=True, populate_by_name=True)


class _Model(BaseModel):
    model_config = _STRICT


class PythonProvider(_Model):
    type: Literal["python"]
    module: Text
    func: Text
    arguments: Arguments = Field(default_factory=dict)
    secrets: list[Text] | None = None


class ProcessProvider(_Model):
    type: Literal["process"]
    path: Text
    arguments: Annotated[
        Any, _one_of(str, list, dict, what="a string, a list of strings or an object")
    ] = None
    timeout: Seconds | None = None


class HttpProvider(_Model):
    type: Literal["http"]
    url: Text
    method: Text = "GET"
    headers: dict[str, str] | None = None
    arguments: Annotated[Any, _one_of(str, dict, what="a string or an object")] = None
    timeout: Annotated[Any, BeforeValidator(_timeouts)] = None
    expected_status: int | None = None
    verify_tls: bool | None = None


Provider = Annotated[PythonProvider | ProcessProvider | HttpProvider, Field(discriminator="type")]


class Pauses(_Model):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    before: Seconds | None = None
    after: Seconds | None = None


class ControlProvider(_Model):
    type: Literal["python"]
    module: Annotated[str, BeforeValidator(_control_module)]
    arguments: Arguments | None = None


class ControlRef(_Model):
    ref: Text


class Control(_Model):
    name: Text
    provider: ControlProvider
    scope: Literal["before", "after"] | None = None
    automatic: bool | None = None


def _control_kind(value: object) -> str:
    return "ref" if isinstance(value, dict) and "ref" in value else "control"


AnyControl = Annotated[
    Annotated[Control, Tag("control")] | Annotated[ControlRef, Tag("ref")],
    Discriminator(_control_kind),
]


class Activity(_Model):
    type: Literal["action", "probe"]
    name: Text
    provider: Provider
    pauses: Pauses | None = None
    background: bool | None = None
    timeout: Seconds | None = None
    controls: list[AnyControl] | None = None


class ActivityRef(_Model):
    ref: Text


def _activity_kind(value: object) -> str:
    return "ref" if isinstance(value, dict) and "ref" in value else "activity"


AnyActivity = Annotated[
    Annotated[Activity, Tag("activity")] | Annotated[ActivityRef, Tag("ref")],
    Discriminator(_activity_kind),
]


class Hypothesis(_Model):
    title: Text
    probes: list[AnyActivity] = Field(default_factory=list)
    controls: list[AnyControl] | None = None


Secret = Annotated[Any, BeforeValidator(_secret)]


class ExperimentShape(_Model):
    version: str | None = None
    title: Text
    description: Text
    tags: list[Text] | None = None
    contributions: dict[str, str] | None = None
    configuration: dict[str, Any] | None = None
    secrets: dict[str, dict[str, Secret]] | None = None
    controls: list[AnyControl] | None = None
    steady_state_hypothesis: Hypothesis | None = Field(
        default=None, alias="steady-state-hypothesis"
    )
    method: list[AnyActivity]
    rollbacks: list[AnyActivity] = Field(default_factory=list)
    extensions: list[dict[str, Any]] | None = None
    runtime: dict[str, Any] | None = None


_NOT_OBJECT = "is not an object; write a JSON object {...}"
_NOT_LIST = "is not a list; write a JSON array [...]"
_TYPE_REASONS = {
    "model_type": _NOT_OBJECT,
    "model_attributes_type": _NOT_OBJECT,
    "dict_type": _NOT_OBJECT,
    "list_type": _NOT_LIST,
    "string_type": "is not a string; write it in double quotes",
    "bool_type": "is not a boolean; write true or false",
    "int_type": "is not a whole number",
    "float_type": "is not a number",
    "finite_number": "is not a finite number",
}
_ITEM_TAGS = {"activity", "control", "ref"}
_PROVIDER_TAGS = {"python", "process", "http"}


def _path(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    """The key path of an error, without the union tags pydantic puts into it (after a list
    index: activity / control / ref; after provider: its type)."""
    kept: list[int | str] = []
    for index, part in enumerate(loc):
        previous = loc[index - 1] if index else None
        if isinstance(previous, int) and part in _ITEM_TAGS:
            continue
        if previous == "provider" and part in _PROVIDER_TAGS:
            continue
        kept.append(part)
    return tuple(kept)


def _reason(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "experiment_value":
        return str(error["msg"])
    if kind == "missing":
        return "is missing; add it"
    if kind == "extra_forbidden":
        return "is not a key chaoslib knows here; remove it"
    if kind == "literal_error":
        return f"is not one of {ctx.get('expected', '?')}; write one of them"
    if kind == "union_tag_invalid":
        return f"has type {ctx.get('tag')!r}, not one of {ctx.get('expected_tags')}; fix its type"
    if kind == "union_tag_not_found":
        return "has no 'type'; give its type (python, process or http)"
    if kind in _TYPE_REASONS:
        return _TYPE_REASONS[kind]
    message = str(error["msg"])
    return f"is not valid ({message[:1].lower()}{message[1:]}); fix the value"


def _non_finite(
    node: object, path: tuple[int | str, ...] = ()
) -> Iterator[tuple[tuple[int | str, ...], float]]:
    stack: list[tuple[object, tuple[int | str, ...]]] = [(node, path)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            yield where, value
        elif isinstance(value, dict):
            stack.extend((child, (*where, str(key))) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, (*where, index)) for index, child in enumerate(value))


def check_structure(document: object, *, source: str) -> dict[str, Any]:
    """``document`` as an experiment, every field chaoslib reads of the JSON type it expects;
    raises :class:`ExperimentError` naming ``source`` and the first problem."""
    if not isinstance(document, dict):
        raise ExperimentError(
            f"{source}: the top level is {quote(document)}, not an object; an experiment is a "
            'JSON object {"title": ..., "description": ..., "method": [...]}'
        )
    for where, value in _non_finite(document):
        raise ExperimentError(
            f"{source}: {dotted(where)}: {value!r} is not a finite number; write a number such "
            "as 30"
        )
    try:
        ExperimentShape.model_validate(document)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        loc = _path(tuple(first["loc"]))
        value = first.get("input")
        shown = "" if isinstance(value, dict) or first["type"] == "missing" else quote(value) + " "
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ExperimentError(f"{source}: {dotted(loc)}: {shown}{_reason(first)}{more}") from None
    return document
