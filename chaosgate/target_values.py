"""The target's value types: each field validator rejects with a reason that reads after the
quoted value (``'ftp://x' is not an http(s) URL; write it as http://host:port``).

Validators raise ``PydanticCustomError("target_value", ...)`` (:func:`reject`), whose message
:func:`chaosgate.target_env.describe_error` puts after the quoted value and its source.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, NoReturn
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

__all__ = [
    "CHAOS_KINDS",
    "MAX_DEADLINE_S",
    "SINK_RECEIVERS",
    "ChaosKind",
    "DocField",
    "EnvName",
    "HttpUrlStr",
    "IndexPattern",
    "KindOfChaos",
    "Namespace",
    "Namespaces",
    "NodeName",
    "NonEmpty",
    "Seconds",
    "SinkReceiver",
    "SinkReceivers",
    "TargetName",
    "Username",
    "reject",
]

MAX_DEADLINE_S = 3600.0


def reject(reason: str) -> NoReturn:
    """Refuse a value with ``reason`` (what is wrong with it; how to fix it)."""
    raise PydanticCustomError("target_value", "{reason}", {"reason": reason})


def _check_url(value: str) -> str:
    fix = "write it as http://host:port"
    if not value.strip() or any(char.isspace() for char in value):
        reject(f"is not an http(s) URL (it is empty or has spaces); {fix}")
    try:
        parts = urlsplit(value)
        parts.hostname  # noqa: B018  (a bracketed host that is no IPv6 address raises here)
    except ValueError:
        reject(f"is not an http(s) URL (its host is no name or [IPv6] address); {fix}")
    if parts.scheme not in ("http", "https"):
        reject(f"is not an http(s) URL; {fix}")
    if "@" in parts.netloc:
        reject("carries credentials; remove them and use elasticsearch.auth")
    if not parts.hostname:
        reject(f"has no host; {fix}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is not None and not 1 <= port <= 65535:
        reject(f"has an invalid port; {fix} with a port from 1 to 65535")
    if parts.query or parts.fragment:
        reject("has a query or fragment; give only scheme, host, port and path")
    return value.rstrip("/")


def _check_deadline(value: float) -> float:
    if not 0 < value <= MAX_DEADLINE_S:
        reject(f"is not a deadline in seconds; give a number > 0 and <= {MAX_DEADLINE_S:g}")
    return value


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        reject("is not a number; write a number of seconds such as 30")
    return value


def _not_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        reject("is empty; list at least one namespace chaos may touch")
    return value


CHAOS_KINDS = ("local", "kubernetes")


def _chaos_kind(value: object) -> object:
    if value not in CHAOS_KINDS:
        reject(
            "is not a kind of chaos; write kubernetes (experiments/k8s/, acting through the "
            "kubernetes section) or local (experiments/local/, the local process stack only)"
        )
    return value


def _matching(pattern: str, reason: str) -> AfterValidator:
    """Accept strings fully matching ``pattern``; reject others with ``reason``."""
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            reject(reason)
        return value

    return AfterValidator(check)


HttpUrlStr = Annotated[str, AfterValidator(_check_url)]
Seconds = Annotated[float, BeforeValidator(_not_bool), AfterValidator(_check_deadline)]
ChaosKind = Literal["local", "kubernetes"]
"""Which experiments a target takes: ``local`` (the local process stack) or ``kubernetes``."""
KindOfChaos = Annotated[ChaosKind, BeforeValidator(_chaos_kind)]

NodeName = Annotated[
    str,
    _matching(
        r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
        "is not a node name; use lowercase letters, digits, '-' and '.' (a DNS subdomain)",
    ),
]
Namespace = Annotated[
    str,
    _matching(
        r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
        "is not a DNS-1123 label; use at most 63 lowercase letters, digits and '-', "
        "starting and ending with a letter or digit",
    ),
]
Namespaces = Annotated[tuple[Namespace, ...], AfterValidator(_not_empty)]
EnvName = Annotated[
    str,
    _matching(
        r"[A-Za-z_][A-Za-z0-9_]*", "is not an environment variable name; give one like ES_PASSWORD"
    ),
]
NonEmpty = Annotated[str, _matching(r"(?s).*\S.*", "is empty; give a value or leave the key out")]
DocField = Annotated[
    str,
    _matching(
        r"\S+", "is not a document field name (empty or has spaces); write one like trace_id"
    ),
]
IndexPattern = Annotated[
    str,
    _matching(
        r"\S+", "is not an index pattern (empty or has spaces); write one like restaurant-logs-*"
    ),
]
Username = Annotated[
    str,
    _matching(r"[^:]+", "is not a username (empty or has ':'); give the Elasticsearch user name"),
]
TargetName = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}",
        "is not a target name; use up to 63 letters, digits, '.', '_' and '-'",
    ),
]

SinkReceiver = Literal["webhook", "slack", "email"]
SINK_RECEIVERS: tuple[SinkReceiver, ...] = ("webhook", "slack", "email")


def _sink_receiver(value: object) -> object:
    if value not in SINK_RECEIVERS:
        reject(f"is not an integration the sink records; write {', '.join(SINK_RECEIVERS)}")
    return value


def _each_once(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        reject("names an integration twice; list each at most once")
    return value


SinkReceivers = Annotated[
    tuple[Annotated[SinkReceiver, BeforeValidator(_sink_receiver)], ...],
    AfterValidator(_each_once),
]
