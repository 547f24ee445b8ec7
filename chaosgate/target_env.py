"""Environment overrides for a target, where each value came from, and problem lines.

The rule (``load_target`` applies it to the environment it is given):

- ``CHAOSGATE_`` + the field path upper-cased, joined by ``__``, overrides that field:
  ``CHAOSGATE_GATEWAY_URL``, ``CHAOSGATE_ELASTICSEARCH__URL``, ``CHAOSGATE_DEADLINES__ALERTS_S``,
  ``CHAOSGATE_ELASTICSEARCH__AUTH__PASSWORD_ENV``. Lists are comma-separated
  (``CHAOSGATE_KUBERNETES__NAMESPACES=restaurant,payments``); an empty value sets an optional
  field to null (``CHAOSGATE_KUBERNETES__CONTEXT=``). Environment values beat file values.
- Every other variable whose name starts with ``CHAOSGATE_``, in any case, must be one the
  suite knows (:mod:`chaosgate.env_names`: ``CHAOSGATE_PORT_<NAME>``, the stack's, the fault
  ledger's, the load's and the tests' variables), or loading fails naming the closest known
  variable: a typo is never silently ignored, and names are upper case.
- Secrets are never target values: ``CHAOSGATE_ELASTICSEARCH__AUTH__PASSWORD`` is an error;
  name the variable that holds the password with ``..._PASSWORD_ENV`` instead.

It also keeps the record of where each value came from (file, environment variable or
built-in) and turns validation errors into the one-line problems ``TargetError`` carries.
It knows pydantic models in general, not the target's models in particular.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any, NamedTuple, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from chaosgate.env_names import ENV_PREFIX, SUITE_ENV_PREFIXES, SUITE_ENV_VARS, closest_env_name

__all__ = [
    "ENV_PREFIX",
    "EnvOverride",
    "KeyPath",
    "Leaf",
    "Sources",
    "apply_overrides",
    "describe_error",
    "dotted",
    "env_leaves",
    "is_secret_key",
    "model_at",
    "parse_env_overrides",
    "quote",
    "record_sources",
    "reject_literal_secrets",
    "source_of",
    "unwrap_optional",
]

_KNOWN_TEXT = (
    "a target field, CHAOSGATE_PORT_<NAME>, or a variable of the suite listed in the README"
)

# words that make a key a secret when it holds the value itself (not its *_env / *_file name)
_SECRET_WORDS = ("password", "passwd", "api_key", "apikey", "token", "secret", "credential")

KeyPath = tuple[Any, ...]
"""A path into the raw target data: mapping keys (and list indexes, as pydantic reports them)."""

Sources = dict[KeyPath, str]
"""Where each value came from: path -> "target file '...'" or "environment variable NAME"."""


class Leaf(NamedTuple):
    """A field that an environment variable can set."""

    path: tuple[str, ...]
    is_list: bool
    optional: bool


class EnvOverride(NamedTuple):
    """One value taken from the environment, already split into a list where the field is one."""

    var: str
    path: tuple[str, ...]
    value: object


def is_secret_key(key: object) -> bool:
    """True for a key such as ``password`` or ``api_key`` that would hold a secret literally."""
    name = str(key).lower().replace("-", "_")
    if name.endswith(("_env", "_file")):
        return False
    return any(word in name for word in _SECRET_WORDS)


def unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """``X | None`` -> ``(X, True)``; anything else -> ``(annotation, False)``."""
    if get_origin(annotation) in (Union, types.UnionType):
        args = get_args(annotation)
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1 and len(rest) < len(args):
            return rest[0], True
    return annotation, False


def _as_model(annotation: Any) -> type[BaseModel] | None:
    plain = get_origin(annotation) is None and isinstance(annotation, type)
    return annotation if plain and issubclass(annotation, BaseModel) else None


def model_at(root: type[BaseModel], path: Iterable[object]) -> type[BaseModel] | None:
    """The nested model class found by following ``path`` from ``root``, or None."""
    model = root
    for part in path:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        inner = _as_model(unwrap_optional(field.annotation)[0])
        if inner is None:
            return None
        model = inner
    return model


def env_leaves(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> dict[str, Leaf]:
    """Every settable field below ``model``, by its environment variable name.

    Fields marked ``exclude=True`` (resolved secrets) are not settable.
    """
    leaves: dict[str, Leaf] = {}
    for name, field in model.model_fields.items():
        if field.exclude:
            continue
        inner, optional = unwrap_optional(field.annotation)
        path = (*prefix, name)
        nested = _as_model(inner)
        if nested is not None:
            leaves.update(env_leaves(nested, path))
        else:
            var = ENV_PREFIX + "__".join(part.upper() for part in path)
            leaves[var] = Leaf(path, get_origin(inner) in (tuple, list), optional)
    return leaves


def _convert(text: str, leaf: Leaf) -> object:
    if leaf.optional and not text.strip():
        return None
    if leaf.is_list:
        return tuple(item.strip() for item in text.split(",") if item.strip())
    return text


def _unknown_var(var: str, leaves: Mapping[str, Leaf]) -> str:
    upper = var.upper()
    dotted_path = ".".join(upper.removeprefix(ENV_PREFIX).lower().split("__"))
    head = f"environment variable {var}"
    if var != upper:
        close = closest_env_name(upper, [*leaves, *SUITE_ENV_VARS])
        hint = f"did you mean {close}?" if close else "unset it"
        return f"{head}: environment variable names of chaosgate are upper case; {hint}"
    if is_secret_key(dotted_path.rsplit(".", 1)[-1]):
        named = f"{var}_ENV"
        how = f"set {named}=NAME" if named in leaves else "name it with a *_ENV or *_FILE field"
        return (
            f"{head}: {dotted_path}: a secret cannot be given as a target value; put it in its "
            f"own environment variable and {how}"
        )
    close = closest_env_name(var, [*leaves, *SUITE_ENV_VARS])
    hint = f"did you mean {close}?" if close else "unset it or fix its name"
    return f"{head}: not a variable chaosgate knows ({_KNOWN_TEXT}); {hint}"


def parse_env_overrides(
    model: type[BaseModel], env: Mapping[str, str]
) -> tuple[list[EnvOverride], list[str]]:
    """The overrides ``env`` holds for ``model``, and one problem line per ``CHAOSGATE_``
    variable (in any case) that is neither a field of ``model`` nor one of the suite's own
    (:mod:`chaosgate.env_names`)."""
    leaves = env_leaves(model)
    overrides: list[EnvOverride] = []
    problems: list[str] = []
    for var in sorted(env):
        if not var.upper().startswith(ENV_PREFIX):
            continue
        leaf = leaves.get(var)
        if leaf is not None:
            overrides.append(EnvOverride(var, leaf.path, _convert(env[var], leaf)))
        elif var not in SUITE_ENV_VARS and not var.startswith(tuple(SUITE_ENV_PREFIXES)):
            problems.append(_unknown_var(var, leaves))
    return overrides, problems


def record_sources(node: object, source: str, sources: Sources, path: KeyPath = ()) -> None:
    """Note ``source`` for ``path`` and every path below it in ``node``."""
    sources[path] = source
    if isinstance(node, Mapping):
        for key, child in node.items():
            record_sources(child, source, sources, (*path, key))


def apply_overrides(
    raw: MutableMapping[Any, Any], overrides: Iterable[EnvOverride], sources: Sources
) -> None:
    """Write each override into ``raw`` (creating missing sections) and note its source.

    A section the file set to something other than a mapping is left alone: validation then
    reports the file's value.
    """
    for override in overrides:
        source = f"environment variable {override.var}"
        node = raw
        for depth, key in enumerate(override.path[:-1], start=1):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
                sources[override.path[:depth]] = source
            if not isinstance(child, MutableMapping):
                break
            node = child
        else:
            node[override.path[-1]] = override.value
            sources[override.path] = source


def source_of(sources: Mapping[KeyPath, str], path: KeyPath) -> str:
    """The source recorded for ``path`` or, failing that, for its nearest parent."""
    for end in range(len(path), -1, -1):
        found = sources.get(tuple(path[:end]))
        if found is not None:
            return found
    return "target"


def dotted(path: KeyPath) -> str:
    """``("kubernetes", "namespaces", 1)`` -> ``kubernetes.namespaces[1]``."""
    text = ""
    for part in path:
        if isinstance(part, int) and not isinstance(part, bool):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


# --- problem lines: "<source>: <key path>: <quoted value> <reason>; <fix>" ---

_SECRET_FIXES = (
    ("pass", "name the variable that holds it with password_env, or the file with password_file"),
    ("key", "name the variable that holds it with api_key_env, or the file with api_key_file"),
    (
        "",
        "name the variable or file that holds it with password_env, password_file, api_key_env "
        "or api_key_file",
    ),
)


def reject_literal_secrets(node: object, sources: Sources, path: KeyPath = ()) -> list[str]:
    """Remove secret-looking keys from ``node``, one problem line each.

    The keys are removed so their values never reach validation, hence never any message.
    """
    problems: list[str] = []
    if not isinstance(node, MutableMapping):
        return problems
    for key in list(node):
        here = (*path, key)
        if not is_secret_key(key):
            problems += reject_literal_secrets(node[key], sources, here)
            continue
        del node[key]
        how = next(fix for word, fix in _SECRET_FIXES if word in str(key).lower())
        problems.append(
            f"{source_of(sources, here)}: {dotted(here)}: a secret must not be written in a "
            f"target; {how}"
        )
    return problems


_NOT_A_NUMBER = "is not a number; write a number of seconds such as 30"
_NOT_A_MAPPING = "is not a mapping; write its keys indented below it"
_NOT_A_LIST = "is not a list; write a YAML list (in an environment variable: a,b,c)"
_TYPE_REASONS = {
    "string_type": "is not text; write it as a string",
    "float_parsing": _NOT_A_NUMBER,
    "float_type": _NOT_A_NUMBER,
    "finite_number": _NOT_A_NUMBER,
    "bool_parsing": "is not a boolean; write true or false",
    "bool_type": "is not a boolean; write true or false",
    "model_type": _NOT_A_MAPPING,
    "model_attributes_type": _NOT_A_MAPPING,
    "dict_type": _NOT_A_MAPPING,
    "tuple_type": _NOT_A_LIST,
    "list_type": _NOT_A_LIST,
}


def describe_error(root: type[BaseModel], error: ErrorDetails, sources: Sources) -> str:
    """One pydantic error of validating ``root`` as a problem line.

    Validators raise ``PydanticCustomError("target_value", ...)`` whose message is the reason
    and fix that follow the quoted value.
    """
    loc = tuple(error["loc"])
    head = f"{source_of(sources, loc)}: {dotted(loc)}"
    kind = error["type"]
    if kind == "extra_forbidden":
        model = model_at(root, loc[:-1])
        known = [n for n, f in model.model_fields.items() if not f.exclude] if model else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "remove it"
        return f"{head}: unknown key {str(loc[-1])!r}; {hint} (known keys here: {', '.join(known)})"
    if kind == "missing":
        return f"{head}: is missing; add it"
    reason = error["msg"] if kind == "target_value" else _TYPE_REASONS.get(kind)
    if reason is None:
        message = error["msg"]
        reason = f"is not valid ({message[:1].lower()}{message[1:]}); fix the value"
    value = error.get("input")
    if isinstance(value, Mapping):
        return f"{head}: {reason}"
    return f"{head}: {quote(value)} {reason}"


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@")


def quote(value: object) -> str:
    """A value as a message shows it: quoted, one line, at most 80 characters, URL logins masked."""
    if value is None:
        return "null"
    if isinstance(value, str):
        value = _USERINFO.sub(r"\1***@", value)
    elif isinstance(value, tuple):
        value = list(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
