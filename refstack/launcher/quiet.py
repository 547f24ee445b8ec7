"""Is a freshly started stack quiet? No alert firing or pending in Prometheus, none active in
Alertmanager, judged on rules Prometheus evaluated after it had scraped every target once.

Why ``stack up`` waits for this and not only for each part's health check: Prometheus (2.42)
evaluates its rules from its start but scrapes its first targets ~5 s later (its scrape manager
takes discovered targets every 5 s), and a part slower to start than that is down for its first
scrapes; either way a "down" rule can fire on a fresh start (``for: 5s``) and keep firing 20 s
more (``keep_firing_for``), and the node's CPU alert goes pending while the JVMs start. A run
started in those seconds counted the alert as noise: CI's smoke run on Elasticsearch failed
``alerts.noise`` with ``IoTServiceDown`` while every part was healthy (measured). A stack that
says it is up is one a run can start on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

__all__ = ["QuietState", "observe_quiet", "wait_quiet"]

QUIET_TIMEOUT_S = 90.0  # longest start-up episode: for 15 s + keep_firing_for 20 s, and slack
POLL_S = 1.0


@dataclass(frozen=True)
class QuietState:
    """One look at Prometheus and Alertmanager; ``noise`` is empty when the stack is quiet."""

    all_scraped: bool  # there are active targets and each has been scraped at least once
    evaluated_since: float | None  # the oldest rule group's last evaluation, unix seconds
    noise: tuple[str, ...]  # "IoTServiceDown (firing in Prometheus)", ...

    def quiet_since(self, scraped_at: float | None) -> bool:
        """Quiet, on rules every group evaluated after ``scraped_at`` (when all were scraped)."""
        return (
            scraped_at is not None
            and self.evaluated_since is not None
            and self.evaluated_since > scraped_at
            and not self.noise
        )


def _unix(stamp: str) -> float | None:
    """Prometheus' RFC 3339 time (Python 3.11 reads its nanoseconds); None for its zero time."""
    if not stamp or stamp.startswith("0001-01-01"):
        return None
    return datetime.fromisoformat(stamp).timestamp()


def _data(http: httpx.Client, url: str) -> object:
    response = http.get(url)
    response.raise_for_status()
    return response.json()


def observe_quiet(http: httpx.Client, prometheus_url: str, alertmanager_url: str) -> QuietState:
    """Read targets, rule groups and alerts (raises ``httpx.HTTPError`` when one cannot)."""
    targets = _data(http, f"{prometheus_url}/api/v1/targets?state=active")
    active = targets["data"]["activeTargets"] if isinstance(targets, dict) else []
    # none yet before the scrape manager's first reload: then nothing has been scraped
    all_scraped = bool(active) and all(t.get("health") in ("up", "down") for t in active)
    rules = _data(http, f"{prometheus_url}/api/v1/rules")
    groups = rules["data"]["groups"] if isinstance(rules, dict) else []
    evaluations = [_unix(str(group.get("lastEvaluation", ""))) for group in groups]
    evaluated_since = (
        min(e for e in evaluations if e is not None)
        if evaluations and all(e is not None for e in evaluations)
        else None
    )
    alerts = _data(http, f"{prometheus_url}/api/v1/alerts")
    noise = [
        f"{alert['labels'].get('alertname', '?')} ({alert.get('state', '?')} in Prometheus)"
        for alert in (alerts["data"]["alerts"] if isinstance(alerts, dict) else [])
    ]
    active_in_manager = _data(http, f"{alertmanager_url}/api/v2/alerts")
    noise += [
        f"{alert['labels'].get('alertname', '?')} (active in Alertmanager)"
        for alert in (active_in_manager if isinstance(active_in_manager, list) else [])
    ]
    return QuietState(all_scraped, evaluated_since, tuple(sorted(set(noise))))


def wait_quiet(
    http: httpx.Client,
    prometheus_url: str,
    alertmanager_url: str,
    *,
    report: Callable[[str], None],
    timeout_s: float = QUIET_TIMEOUT_S,
    observe: Callable[[], QuietState] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once the stack is quiet; raise ``TimeoutError`` naming what still sounds."""
    look = observe or (lambda: observe_quiet(http, prometheus_url, alertmanager_url))
    deadline = clock() + timeout_s
    scraped_at: float | None = None
    announced: tuple[str, ...] = ()
    last = ""
    while True:
        try:
            state = look()
            last = ", ".join(state.noise)
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            state, last = None, f"{type(exc).__name__}: {exc}"
        if state is not None:
            if scraped_at is None and state.all_scraped:
                scraped_at = clock()
            if state.quiet_since(scraped_at):
                if announced:
                    report("  no alert fires any more: the stack is quiet")
                return
            if state.noise and state.noise != announced:
                announced = state.noise
                report(f"  waiting for alerts of the start to resolve: {last}")
        if clock() > deadline:
            what = last or "Prometheus has not evaluated its rules on every target yet"
            raise TimeoutError(
                f"the stack is not quiet after {timeout_s:.0f} s: {what}; "
                f"see {prometheus_url}/alerts and {alertmanager_url}"
            )
        sleep(POLL_S)
