"""Prometheus through prometheus-api-client: instant and range queries, alerting rules.

``PrometheusConnect`` talks ``requests``; the session is passed in (tests mount a transport
adapter on it) and its own retries are off by default, so a check's deadline, not the client,
decides how long to keep trying. Every exception it raises (HTTP status, connection, timeout,
undecodable or wrongly shaped answer) becomes one :class:`BackendError`.

The client has no call for ``/api/v1/rules`` nor ``/api/v1/status/buildinfo``, so
:meth:`PrometheusBackend.rules` and :meth:`PrometheusBackend.version` send them on the same
session (through the adapter, and so the retries, the client mounted on the URL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from assertions.backends._http import join_url
from assertions.backends.build_info import BuildInfo, details_of, text_or_none
from assertions.backends.errors import BackendError

__all__ = ["AlertRule", "PrometheusBackend", "Sample", "Series"]

NAME = "prometheus"
_T = TypeVar("_T")


@dataclass(frozen=True)
class Sample:
    labels: Mapping[str, str]
    timestamp: float
    value: float  # NaN and ±Inf as Prometheus sends them


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]  # (unix time, value), oldest first


@dataclass(frozen=True)
class AlertRule:
    """An alerting rule Prometheus has loaded (``/api/v1/rules``)."""

    name: str  # the alertname it raises
    group: str
    labels: Mapping[str, str]  # the rule's own labels (severity, service...)
    expr: str  # Prometheus' rendering of the expression ("query")
    health: str  # ok, err or unknown (not evaluated yet)
    file: str  # the rule file of its group


class PrometheusBackend:
    """Prometheus' HTTP API at ``url``, through ``session``."""

    name = NAME

    def __init__(
        self,
        session: requests.Session,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
        retries: int = 0,
    ) -> None:
        self._url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._session = session
        self._headers = dict(headers or {})
        self._prometheus = PrometheusConnect(
            url=self._url,
            headers=dict(headers or {}),
            session=session,
            retry=Retry(
                total=retries,
                backoff_factor=0.2,
                status_forcelist=(502, 503, 504) if retries else (),
                raise_on_status=False,  # the last answer's status reaches the error message
            ),
        )

    @property
    def url(self) -> str:
        return self._url

    def instant(self, query: str, *, at: float | None = None) -> list[Sample]:
        """``/api/v1/query`` at ``at`` (unix seconds; now when None): one sample per series."""
        params = {} if at is None else {"time": f"{at:.3f}"}
        result = self._run(
            "api/v1/query",
            lambda: self._prometheus.custom_query(query, params=params, timeout=self._timeout_s),
        )
        return self._parse("api/v1/query", result, _samples)

    def range(self, query: str, *, start: float, end: float, step_s: float) -> list[Series]:
        """``/api/v1/query_range`` from ``start`` to ``end`` (whole seconds) every ``step_s``."""
        result = self._run(
            "api/v1/query_range",
            lambda: self._prometheus.custom_query_range(
                query,
                start_time=datetime.fromtimestamp(start, UTC),
                end_time=datetime.fromtimestamp(end, UTC),
                step=f"{step_s:g}",
                timeout=self._timeout_s,
            ),
        )
        return self._parse("api/v1/query_range", result, _series)

    def rules(self) -> list[AlertRule]:
        """Every alerting rule loaded (``/api/v1/rules?type=alert``), in Prometheus' order."""
        endpoint = "api/v1/rules"
        body = self._run(endpoint, lambda: self._get(endpoint, {"type": "alert"}))
        return self._parse(endpoint, body, _alert_rules)

    def version(self) -> BuildInfo:
        """What Prometheus says it is (``/api/v1/status/buildinfo``): version, revision, build
        date, branch and Go version."""
        endpoint = "api/v1/status/buildinfo"
        body = self._run(endpoint, lambda: self._get(endpoint, {}))
        return self._parse(endpoint, body, lambda b: _build_info(b, join_url(self._url, endpoint)))

    def _get(self, endpoint: str, params: Mapping[str, str]) -> Any:
        """``GET endpoint`` on the session; a non-2xx answer is a BackendError."""
        url = join_url(self._url, endpoint)
        response = self._session.get(
            url, params=dict(params), headers=self._headers, timeout=self._timeout_s
        )
        if not response.ok:
            excerpt = " ".join(response.text.split())[:200]
            raise BackendError(
                NAME, url, f"HTTP {response.status_code}: {excerpt!r}", status=response.status_code
            )
        return response.json()

    def _run(self, endpoint: str, call: Callable[[], Any]) -> Any:
        url = join_url(self._url, endpoint)
        try:
            return call()
        except requests.Timeout as exc:
            raise BackendError(NAME, url, f"timed out ({type(exc).__name__})") from exc
        except PrometheusApiClientException as exc:
            status = _status_of(str(exc))
            raise BackendError(NAME, url, str(exc)[:300], status=status) from exc
        except requests.JSONDecodeError as exc:
            raise BackendError(NAME, url, f"answer is not JSON: {exc}"[:300]) from exc
        except requests.RequestException as exc:
            raise BackendError(NAME, url, f"{type(exc).__name__}: {exc}"[:300]) from exc
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # the client's parsing
            raise BackendError(
                NAME, url, f"malformed answer: {type(exc).__name__}: {exc}"[:300]
            ) from exc

    def _parse(self, endpoint: str, result: Any, parse: Callable[[Any], _T]) -> _T:
        try:
            return parse(result)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise BackendError(
                NAME,
                join_url(self._url, endpoint),
                f"malformed answer: {type(exc).__name__}: {exc}",
            ) from exc


def _status_of(message: str) -> int | None:
    # "HTTP Status Code 503 (b'...')"
    parts = message.split()
    if len(parts) > 3 and parts[:3] == ["HTTP", "Status", "Code"] and parts[3].isdigit():
        return int(parts[3])
    return None


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(f"{value!r} is not a number")
    return float(value)  # "NaN", "+Inf" and "-Inf" included


def _labels(item: Mapping[str, Any]) -> dict[str, str]:
    metric = item.get("metric", {})
    if not isinstance(metric, dict):
        raise TypeError("'metric' is not an object")
    return {str(key): str(value) for key, value in metric.items()}


def _samples(result: Any) -> list[Sample]:
    if not isinstance(result, list):
        raise TypeError(f"result is {type(result).__name__}, not a list")
    if len(result) == 2 and not isinstance(result[0], dict):  # a scalar or string result
        return [Sample(labels={}, timestamp=_number(result[0]), value=_number(result[1]))]
    samples = []
    for item in result:
        timestamp, value = item["value"]
        samples.append(Sample(_labels(item), _number(timestamp), _number(value)))
    return samples


def _alert_rules(body: Any) -> list[AlertRule]:
    if not isinstance(body, dict) or body.get("status") != "success":
        status = body.get("status") if isinstance(body, dict) else type(body).__name__
        raise ValueError(f"status is {status!r}, not 'success'")
    groups = body["data"]["groups"]
    if not isinstance(groups, list):
        raise TypeError(f"'data.groups' is {type(groups).__name__}, not a list")
    rules = []
    for group in groups:
        for rule in group["rules"]:
            if rule.get("type", "alerting") != "alerting":
                continue
            labels = rule.get("labels") or {}
            if not isinstance(labels, dict):
                raise TypeError(f"the labels of rule {rule.get('name')!r} are not an object")
            rules.append(
                AlertRule(
                    name=_text(rule["name"]),
                    group=_text(group["name"]),
                    labels={str(key): str(value) for key, value in labels.items()},
                    expr=_text(rule["query"]),
                    health=_text(rule.get("health", "unknown")),
                    file=_text(group.get("file", "")),
                )
            )
    return rules


def _build_info(body: Any, endpoint: str) -> BuildInfo:
    if not isinstance(body, dict) or body.get("status") != "success":
        status = body.get("status") if isinstance(body, dict) else type(body).__name__
        raise ValueError(f"status is {status!r}, not 'success'")
    data = body["data"]
    if not isinstance(data, dict):
        raise TypeError(f"'data' is {type(data).__name__}, not an object")
    return BuildInfo(
        version=_text(data["version"]),
        endpoint=endpoint,
        revision=text_or_none(data.get("revision")),
        build_date=text_or_none(data.get("buildDate")),
        details=details_of({"branch": data.get("branch"), "go_version": data.get("goVersion")}),
    )


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not a string")
    return value


def _series(result: Any) -> list[Series]:
    if not isinstance(result, list):
        raise TypeError(f"result is {type(result).__name__}, not a list")
    return [
        Series(
            labels=_labels(item),
            points=tuple((_number(t), _number(v)) for t, v in item["values"]),
        )
        for item in result
    ]
