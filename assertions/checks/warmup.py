"""The warm-up gate: is the target healthy enough to test? Every backend answers a real query
and the gateway serves a few requests in a row. Any failure here means exit 3, not a verdict.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.backends.elasticsearch import ElasticsearchBackend
from assertions.backends.errors import BackendError
from assertions.backends.gateway import GatewayBackend
from assertions.backends.jaeger import JaegerBackend
from assertions.backends.prometheus import PrometheusBackend
from assertions.backends.sink import SinkBackend
from assertions.result import CheckResult, Status

__all__ = ["WarmupBackends", "check_warmup"]

STEADY_PATH = "/api/menu"


@dataclass(frozen=True)
class WarmupBackends:
    gateway: GatewayBackend
    jaeger: JaegerBackend
    elasticsearch: ElasticsearchBackend
    prometheus: PrometheusBackend
    alertmanager: AlertmanagerBackend
    sink: SinkBackend


def _probe(name: str, url: str, call: Callable[[], object], attempts: int) -> CheckResult:
    evidence = {"url": url}
    try:
        call()
    except BackendError as exc:
        return CheckResult(
            f"warmup.{name}",
            Status.ERROR,
            "answers",
            "unreachable",
            reason=str(exc),
            attempts=attempts,
            evidence=evidence,
        )
    return CheckResult(
        f"warmup.{name}", Status.PASSED, "answers", "answers", attempts=attempts, evidence=evidence
    )


def _healthz(gateway: GatewayBackend) -> None:
    status = gateway.get_status("/healthz")
    if not 200 <= status < 300:
        raise BackendError("gateway", f"{gateway.url}/healthz", f"HTTP {status}", status=status)


def _steady(
    gateway: GatewayBackend, requests: int, pause_s: float, sleep: Callable[[float], None]
) -> CheckResult:
    statuses: list[int] = []
    for _ in range(requests):
        try:
            statuses.append(gateway.get_status(STEADY_PATH))
        except BackendError as exc:
            return CheckResult(
                "warmup.steady_state",
                Status.FAILED,
                f"{requests} x GET {STEADY_PATH} answer 2xx",
                statuses,
                reason=str(exc),
                attempts=len(statuses) + 1,
            )
        sleep(pause_s)
    bad = [s for s in statuses if not 200 <= s < 300]
    return CheckResult(
        "warmup.steady_state",
        Status.FAILED if bad else Status.PASSED,
        f"{requests} x GET {STEADY_PATH} answer 2xx",
        statuses,
        reason=f"{len(bad)} of {requests} requests answered {sorted(set(bad))}" if bad else "",
        attempts=requests,
    )


def check_warmup(
    backends: WarmupBackends,
    *,
    steady_requests: int = 5,
    pause_s: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> list[CheckResult]:
    """One result per backend (a real, cheap query) plus the gateway's steady state."""
    b = backends
    return [
        _probe("gateway", b.gateway.url, lambda: _healthz(b.gateway), 1),
        # a valid, random id (an all-zero id is invalid and would never be sent)
        _probe("jaeger", b.jaeger.url, lambda: b.jaeger.find_traces([secrets.token_hex(16)]), 1),
        _probe(
            "elasticsearch",
            b.elasticsearch.url,
            lambda: b.elasticsearch.count({"match_all": {}}),
            1,
        ),
        _probe("prometheus", b.prometheus.url, lambda: b.prometheus.instant("vector(1)"), 1),
        _probe("alertmanager", b.alertmanager.url, lambda: b.alertmanager.alerts(), 1),
        _probe("sink", b.sink.url, lambda: b.sink.notifications(), 1),
        _steady(b.gateway, steady_requests, pause_s, sleep),
    ]
