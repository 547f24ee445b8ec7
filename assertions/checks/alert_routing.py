"""Where Alertmanager sends an alert: its routing tree walked over an alert's labels (pure).

Alertmanager's routing, as its ``dispatch`` package does it: the root route takes every alert;
a route whose matchers hold hands the alert to its children depth-first, the first matching
child ending the search unless it says ``continue: true``; a route none of whose children
match takes the alert itself. Matchers are ``matchers`` (``a="b"``, ``a!="b"``, ``a=~"re"``,
``a!~"re"``, regexes anchored at both ends, a missing label being "") and the legacy ``match``
and ``match_re`` maps. A child inherits its parent's ``receiver``, ``group_by``,
``group_wait``, ``group_interval`` and ``repeat_interval`` when it sets none; the root's unset
ones are Alertmanager's defaults (30 s, 5 m, 4 h, no grouping label). Time intervals
(``mute_time_intervals``, ``active_time_intervals``) are not considered.

The walk is written here rather than taken from a library: no maintained Python package
evaluates an Alertmanager routing tree, and ``amtool config routes test`` needs the config as a
file and a process per alert (the unit tests compare this walk with it).

A receiver's integrations are its non-empty ``<kind>_configs`` lists (``slack_configs`` →
``slack``, ``email_configs`` → ``email``, ``webhook_configs`` → ``webhook``...). A malformed
config raises :class:`RoutingConfigError`, naming the bad value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Route",
    "RoutingConfigError",
    "matching_routes",
    "parse_duration",
    "receiver_integrations",
    "route_for",
    "routed_integrations",
    "routed_receivers",
]

GROUP_BY_ALL = "..."
_DEFAULTS = {"group_wait": 30.0, "group_interval": 300.0, "repeat_interval": 4 * 3600.0}
_KNOWN_ORDER = ("webhook", "slack", "email")  # then any other integration, sorted
_DURATION = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_DURATION_UNITS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_MATCHER = re.compile(
    rf"\s*(?P<name>{_QUOTED}|[^\s=!~,{{}}\"]+)\s*(?P<op>=~|!~|!=|=)\s*"
    rf"(?P<value>{_QUOTED}|[^,{{}}\"]*?)\s*(?:,|$)"
)
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


class RoutingConfigError(ValueError):
    """Alertmanager's config cannot be walked: a missing receiver, a bad matcher or duration."""


@dataclass(frozen=True)
class Route:
    """A route that takes an alert, with the settings it has after inheritance."""

    receiver: str
    group_by: tuple[str, ...]  # ("...",): every label
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    path: tuple[int, ...] = ()  # indexes of ``routes`` from the root; () is the root

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels Alertmanager groups the alert by (its notifications' ``groupLabels``)."""
        if GROUP_BY_ALL in self.group_by:
            return dict(labels)
        return {name: labels[name] for name in self.group_by if name in labels}


@dataclass(frozen=True)
class _Matcher:
    name: str
    op: str
    value: str

    def holds(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = re.fullmatch(self.value, actual) is not None
        return found if self.op == "=~" else not found


def parse_duration(value: Any, where: str = "duration") -> float:
    """Alertmanager's duration (``1h30m``, ``5s``, ``500ms``, ``1d``, ``0``) in seconds."""
    text = str(value).strip() if isinstance(value, str | int) else None
    match = _DURATION.match(text) if text else None
    if text == "0":
        return 0.0
    if match is None or not any(match.groups()):
        raise RoutingConfigError(
            f"{where}: {value!r} is not an alertmanager duration; write it like '30s', '5m' "
            "or '1h30m'"
        )
    return sum(
        int(amount) * unit
        for amount, unit in zip(match.groups(), _DURATION_UNITS, strict=True)
        if amount
    )


def _unquote(text: str) -> str:
    if not (text.startswith('"') and text.endswith('"') and len(text) >= 2):
        return text
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def _compile(name: str, op: str, value: str, where: str) -> _Matcher:
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise RoutingConfigError(
                f"{where}: {name}{op}{value!r} has a bad regular expression ({exc}); fix the "
                "matcher in alertmanager's config"
            ) from None
    return _Matcher(name, op, value)


def _parse_matcher_line(line: Any, where: str) -> list[_Matcher]:
    text = str(line).strip() if isinstance(line, str) else None
    if not text:
        raise RoutingConfigError(
            f"{where}: {line!r} is not a matcher; write it like 'severity=\"critical\"'"
        )
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1]
    matchers, position = [], 0
    while position < len(text.rstrip()):
        match = _MATCHER.match(text, position)
        if match is None or match.end() == position:
            raise RoutingConfigError(
                f"{where}: {line!r} is not a matcher; write it like 'severity=\"critical\"', "
                "'service!=\"users\"' or 'alertname=~\"Node.*\"'"
            )
        name, value = _unquote(match["name"]), _unquote(match["value"].strip())
        matchers.append(_compile(name, match["op"], value, where))
        position = match.end()
    return matchers


def _matchers(route: Mapping[str, Any], where: str) -> list[_Matcher]:
    found: list[_Matcher] = []
    lines = route.get("matchers") or []
    if not isinstance(lines, list):
        raise RoutingConfigError(f"{where}.matchers: {lines!r} must be a list of matchers")
    for index, line in enumerate(lines):
        found += _parse_matcher_line(line, f"{where}.matchers[{index}]")
    for key, op in (("match", "="), ("match_re", "=~")):
        legacy = route.get(key) or {}
        if not isinstance(legacy, dict):
            raise RoutingConfigError(f"{where}.{key}: {legacy!r} must map label names to values")
        found += [
            _compile(str(name), op, str(value), f"{where}.{key}") for name, value in legacy.items()
        ]
    return found


def _settings(route: Mapping[str, Any], parent: Route | None, path: tuple[int, ...]) -> Route:
    where = "route" + "".join(f".routes[{index}]" for index in path)
    receiver = route.get("receiver", parent.receiver if parent else None)
    if not isinstance(receiver, str) or not receiver:
        raise RoutingConfigError(f"{where}.receiver: {receiver!r} must name a receiver")
    group_by: Any = route.get("group_by")
    if group_by is None:
        group_by = parent.group_by if parent else ()
    if not isinstance(group_by, list | tuple) or not all(isinstance(n, str) for n in group_by):
        raise RoutingConfigError(f"{where}.group_by: {group_by!r} must be a list of label names")

    def timing(key: str) -> float:
        if key in route and route[key] is not None:
            return parse_duration(route[key], f"{where}.{key}")
        if parent is None:
            return _DEFAULTS[key]
        return float(getattr(parent, f"{key}_s"))

    return Route(
        receiver=receiver,
        group_by=tuple(group_by),
        group_wait_s=timing("group_wait"),
        group_interval_s=timing("group_interval"),
        repeat_interval_s=timing("repeat_interval"),
        path=path,
    )


def _walk(
    route: Any, labels: Mapping[str, str], parent: Route | None, path: tuple[int, ...]
) -> list[Route]:
    where = "route" + "".join(f".routes[{index}]" for index in path)
    if not isinstance(route, dict):
        raise RoutingConfigError(f"{where}: {route!r} must be a mapping")
    own = _settings(route, parent, path)
    # the root takes every alert (alertmanager refuses matchers on it)
    if parent is not None and not all(m.holds(labels) for m in _matchers(route, where)):
        return []
    children = route.get("routes") or []
    if not isinstance(children, list):
        raise RoutingConfigError(f"{where}.routes: {children!r} must be a list of routes")
    found: list[Route] = []
    for index, child in enumerate(children):
        taken = _walk(child, labels, own, (*path, index))
        found += taken
        if taken and not child.get("continue", False):
            break
    return found or [own]


def matching_routes(config: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[Route, ...]:
    """Every route that takes an alert with ``labels``, in Alertmanager's order."""
    if not isinstance(config, Mapping) or "route" not in config:
        raise RoutingConfigError(
            f"alertmanager's config has no 'route' (keys: {sorted(config)!r})"
            if isinstance(config, Mapping)
            else f"alertmanager's config {config!r} is not a mapping"
        )
    return tuple(_walk(config["route"], labels, None, ()))


def route_for(config: Mapping[str, Any], labels: Mapping[str, str]) -> Route:
    """The first route that takes the alert: the one whose grouping and timings apply to it."""
    return matching_routes(config, labels)[0]


def routed_receivers(config: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[str, ...]:
    """The receivers an alert with ``labels`` is sent to, deduplicated, in routing order."""
    return tuple(dict.fromkeys(route.receiver for route in matching_routes(config, labels)))


def _receivers(config: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    items = config.get("receivers") or []
    if not isinstance(items, list) or not all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in items
    ):
        raise RoutingConfigError(
            f"alertmanager's 'receivers' {items!r} must be a list of mappings with a 'name'"
        )
    return {item["name"]: item for item in items}


def receiver_integrations(config: Mapping[str, Any], receiver: str) -> tuple[str, ...]:
    """The integrations (``slack``, ``email``, ``webhook``...) ``receiver`` notifies through."""
    receivers = _receivers(config)
    if receiver not in receivers:
        raise RoutingConfigError(
            f"receiver {receiver!r} is routed to but not defined; define it under 'receivers' "
            f"(defined: {', '.join(sorted(receivers)) or 'none'})"
        )
    kinds = [
        key.removesuffix("_configs")
        for key, value in receivers[receiver].items()
        if key.endswith("_configs") and isinstance(value, list) and value
    ]
    return _ordered(kinds)


def _ordered(kinds: Sequence[str]) -> tuple[str, ...]:
    unique = set(kinds)
    known = [kind for kind in _KNOWN_ORDER if kind in unique]
    return (*known, *sorted(unique - set(_KNOWN_ORDER)))


def routed_integrations(config: Mapping[str, Any], labels: Mapping[str, str]) -> tuple[str, ...]:
    """Every integration an alert with ``labels`` reaches: webhook, slack, email, then others
    alphabetically, each once; () when its receivers have none (a "null" receiver)."""
    kinds: list[str] = []
    for receiver in routed_receivers(config, labels):
        kinds += receiver_integrations(config, receiver)
    return _ordered(kinds)
