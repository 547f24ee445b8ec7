"""Alertmanager's v2 API: the alerts it holds now (timestamps as unix seconds), its config.

``GET /api/v2/alerts`` lists the alerts that are not resolved (seen on Alertmanager 0.25: an
alert leaves the list as soon as Prometheus sends its resolution), ``startsAt`` being the
moment Prometheus saw it firing and ``endsAt`` a moving "resolved unless refreshed" time.
``GET /api/v2/status`` carries the loaded configuration as YAML text in ``config.original``
(secrets shown as ``<secret>``; the root route's unset timings left out, not defaulted) and
the build in ``versionInfo`` (version, revision, branch, build date, Go version).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import yaml

from assertions.backends._http import join_url, request_json
from assertions.backends.build_info import BuildInfo, details_of, text_or_none
from assertions.backends.errors import BackendError

__all__ = ["AlertObservation", "AlertmanagerBackend", "label_matchers", "parse_timestamp"]

NAME = "alertmanager"
_ZERO_YEAR = 1  # Go's zero time, "0001-01-01T00:00:00Z": no time


@dataclass(frozen=True)
class AlertObservation:
    fingerprint: str
    labels: Mapping[str, str]
    starts_at: float
    ends_at: float | None  # None when Alertmanager sends Go's zero time
    state: str  # active, suppressed or unprocessed
    inhibited_by: tuple[str, ...] = ()  # fingerprints of the alerts inhibiting it
    silenced_by: tuple[str, ...] = ()  # ids of the silences muting it


def parse_timestamp(text: str) -> float | None:
    """RFC 3339 (nanoseconds allowed, ``Z`` or an offset) → unix seconds; zero time → None."""
    if not isinstance(text, str):
        raise TypeError(f"timestamp {text!r} is not a string")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    if moment.year == _ZERO_YEAR:
        return None
    return moment.timestamp()


def label_matchers(labels: Mapping[str, str]) -> list[str]:
    """Alertmanager ``filter`` matchers for exact label values: ``name="value"``."""
    return [
        f'{name}="{value.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for name, value in labels.items()
    ]


class AlertmanagerBackend:
    """Alertmanager at ``url``."""

    name = NAME

    def __init__(self, client: httpx.Client, url: str) -> None:
        self._client = client
        self._url = join_url(url, "/api/v2/alerts")
        self._status_url = join_url(url, "/api/v2/status")

    @property
    def url(self) -> str:
        return self._url

    def alerts(self, *, active: bool = True, filters: Sequence[str] = ()) -> list[AlertObservation]:
        """The alerts Alertmanager holds, optionally filtered by matchers (``label_matchers``)."""
        params: list[tuple[str, str]] = [("active", "true" if active else "false")]
        params += [("filter", matcher) for matcher in filters]
        body = request_json(self._client, NAME, "GET", self._url, params=params)
        try:
            return [_observation(item) for item in _as_list(body)]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackendError(
                NAME, self._url, f"malformed answer: {type(exc).__name__}: {exc}"
            ) from exc

    def config(self) -> dict[str, Any]:
        """The configuration Alertmanager runs with (``config.original``, parsed)."""
        body = request_json(self._client, NAME, "GET", self._status_url)
        try:
            original = body["config"]["original"]
            if not isinstance(original, str):
                raise TypeError(f"'config.original' is {type(original).__name__}, not a string")
            config = yaml.safe_load(original)
            if not isinstance(config, dict):
                raise TypeError(f"the configuration is {type(config).__name__}, not a mapping")
        except (KeyError, TypeError, yaml.YAMLError) as exc:
            raise BackendError(
                NAME,
                self._status_url,
                f"malformed answer: {type(exc).__name__}: {exc}"[:300],
            ) from exc
        return config

    def version(self) -> BuildInfo:
        """What Alertmanager says it is: ``versionInfo`` of ``/api/v2/status``."""
        body = request_json(self._client, NAME, "GET", self._status_url)
        try:
            info = body["versionInfo"]
            if not isinstance(info, dict):
                raise TypeError(f"'versionInfo' is {type(info).__name__}, not an object")
            version = info["version"]
            if not isinstance(version, str):
                raise TypeError(f"'versionInfo.version' is {type(version).__name__}, not a string")
        except (KeyError, TypeError) as exc:
            raise BackendError(
                NAME, self._status_url, f"malformed answer: {type(exc).__name__}: {exc}"[:300]
            ) from exc
        return BuildInfo(
            version=version,
            endpoint=self._status_url,
            revision=text_or_none(info.get("revision")),
            build_date=text_or_none(info.get("buildDate")),
            details=details_of({"branch": info.get("branch"), "go_version": info.get("goVersion")}),
        )


def _as_list(body: Any) -> list[Any]:
    if not isinstance(body, list):
        raise TypeError(f"expected a JSON list of alerts, got {type(body).__name__}")
    return body


def _observation(item: Any) -> AlertObservation:
    labels = item["labels"]
    if not isinstance(labels, dict):
        raise TypeError("'labels' is not an object")
    starts_at = parse_timestamp(item["startsAt"])
    if starts_at is None:
        raise ValueError("'startsAt' is the zero time")
    return AlertObservation(
        fingerprint=str(item["fingerprint"]),
        labels={str(key): str(value) for key, value in labels.items()},
        starts_at=starts_at,
        ends_at=parse_timestamp(item["endsAt"]) if item.get("endsAt") else None,
        state=str(item["status"]["state"]),
        inhibited_by=_strings(item["status"].get("inhibitedBy")),
        silenced_by=_strings(item["status"].get("silencedBy")),
    )


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError(f"expected a list of strings, got {type(value).__name__}")
    return tuple(str(item) for item in value)
