"""``stack up`` waits until the stack is quiet (refstack.launcher.quiet): Prometheus' and
Alertmanager's answers at the transport level (pytest-httpserver, shaped as Prometheus 2.x and
Alertmanager 0.25 answer them), time from the one fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pytest_httpserver import HTTPServer

from refstack.launcher.quiet import QuietState, observe_quiet, wait_quiet
from tests.support.clocks import FakeClock

ZERO_TIME = "0001-01-01T00:00:00Z"


def _stamp(unix: float) -> str:
    """As Prometheus writes it: nanoseconds and Z."""
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def _serve(
    server: HTTPServer,
    *,
    health: list[str],
    evaluations: list[str],
    prometheus_alerts: list[dict[str, object]],
    manager_alerts: list[dict[str, object]],
) -> None:
    server.clear()
    targets = [{"health": h, "labels": {"job": f"job{i}"}} for i, h in enumerate(health)]
    server.expect_request("/api/v1/targets").respond_with_json(
        {"status": "success", "data": {"activeTargets": targets, "droppedTargets": []}}
    )
    groups = [{"name": f"g{i}", "lastEvaluation": e} for i, e in enumerate(evaluations)]
    server.expect_request("/api/v1/rules").respond_with_json(
        {"status": "success", "data": {"groups": groups}}
    )
    server.expect_request("/api/v1/alerts").respond_with_json(
        {"status": "success", "data": {"alerts": prometheus_alerts}}
    )
    server.expect_request("/api/v2/alerts").respond_with_json(manager_alerts)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=2.0) as client:
        yield client


FIRING_IOT = {"labels": {"alertname": "IoTServiceDown"}, "state": "firing"}


@pytest.mark.parametrize(
    ("health", "evaluations", "prometheus_alerts", "manager_alerts", "expected"),
    [
        pytest.param(
            ["up", "down"],  # a target down has been scraped: its alert decides
            [_stamp(2000.5), _stamp(1990.25)],
            [FIRING_IOT],
            [{"labels": {"alertname": "IoTServiceDown"}}],
            QuietState(
                True,
                1990.25,
                (
                    "IoTServiceDown (active in Alertmanager)",
                    "IoTServiceDown (firing in Prometheus)",
                ),
            ),
            id="an-alert-in-both",
        ),
        pytest.param(
            ["up", "unknown"],
            [_stamp(2000.0), ZERO_TIME],
            [],
            [],
            QuietState(False, None, ()),
            id="a-target-never-scraped-a-group-never-evaluated",
        ),
        pytest.param(
            [],  # Prometheus just started: no target discovered yet, so no alert can be seen
            [_stamp(2000.0)],
            [],
            [],
            QuietState(False, 2000.0, ()),
            id="no-target-yet",
        ),
    ],
)
def test_the_answers_are_read_into_what_keeps_the_stack_from_being_quiet(
    httpserver: HTTPServer,
    http: httpx.Client,
    health: list[str],
    evaluations: list[str],
    prometheus_alerts: list[dict[str, object]],
    manager_alerts: list[dict[str, object]],
    expected: QuietState,
) -> None:
    _serve(
        httpserver,
        health=health,
        evaluations=evaluations,
        prometheus_alerts=prometheus_alerts,
        manager_alerts=manager_alerts,
    )
    url = httpserver.url_for("").rstrip("/")
    state = observe_quiet(http, url, url)
    assert state.all_scraped is expected.all_scraped
    assert state.evaluated_since == pytest.approx(expected.evaluated_since)
    assert state.noise == expected.noise


def test_no_alert_is_quiet_only_on_rules_evaluated_after_every_target_was_scraped() -> None:
    state = QuietState(all_scraped=True, evaluated_since=1005.0, noise=())
    assert state.quiet_since(1004.0)
    assert not state.quiet_since(1005.0)  # those rules saw targets not yet scraped
    assert not state.quiet_since(None)
    assert not QuietState(True, 1010.0, ("X (pending in Prometheus)",)).quiet_since(1004.0)


def _wait_on(look: Callable[[], QuietState], clock: FakeClock) -> list[str]:
    """Wait on what ``look`` returns, in fake time; what the wait reported."""
    said: list[str] = []
    with httpx.Client() as unused:
        wait_quiet(
            unused,
            "http://p",
            "http://a",
            report=said.append,
            observe=look,
            clock=clock,
            sleep=clock.sleep,
        )
    return said


def test_the_wait_lasts_until_the_start_alert_resolves_and_says_what_it_waited_for() -> None:
    clock = FakeClock(now=1000.0)

    # seconds since the start: scraped from 0, the alert of the start resolves at 22 s
    def look() -> QuietState:
        noise = ("IoTServiceDown (firing in Prometheus)",) if clock.now < 1022.0 else ()
        return QuietState(True, clock.now - 0.5, noise)

    said = _wait_on(look, clock)
    assert clock.now == pytest.approx(1022.0)
    assert said == [
        "  waiting for alerts of the start to resolve: IoTServiceDown (firing in Prometheus)",
        "  no alert fires any more: the stack is quiet",
    ]


def test_quiet_at_once_waits_one_evaluation_after_the_scrapes() -> None:
    clock = FakeClock(now=1000.0)
    said = _wait_on(lambda: QuietState(True, clock.now - 0.5, ()), clock)
    assert clock.slept == [1.0]  # the first look's rules predate the moment all were scraped
    assert said == []


def test_an_alert_that_never_resolves_fails_the_wait_by_name(
    httpserver: HTTPServer, http: httpx.Client
) -> None:
    _serve(
        httpserver,
        health=["up"],
        evaluations=[_stamp(1.0)],
        prometheus_alerts=[{"labels": {"alertname": "UsersServiceDown"}, "state": "pending"}],
        manager_alerts=[],
    )
    url = httpserver.url_for("").rstrip("/")
    clock = FakeClock(now=1000.0)
    with pytest.raises(TimeoutError) as caught:
        wait_quiet(
            http, url, url, report=lambda _: None, timeout_s=10.0, clock=clock, sleep=clock.sleep
        )
    assert str(caught.value).startswith(
        "the stack is not quiet after 10 s: UsersServiceDown (pending in Prometheus); see "
    )
    assert f"{url}/alerts" in str(caught.value)


def test_prometheus_not_answering_is_named_when_the_wait_ends(http: httpx.Client) -> None:
    clock = FakeClock(now=1000.0)
    with pytest.raises(TimeoutError, match=r"not quiet after 3 s: ConnectError"):
        wait_quiet(
            http,
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
            report=lambda _: None,
            timeout_s=3.0,
            clock=clock,
            sleep=clock.sleep,
        )
