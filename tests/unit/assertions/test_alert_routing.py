"""Alertmanager routing walked over labels: the platform's tree, matchers, inheritance, amtool."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from assertions.checks.alert_routing import (
    Route,
    RoutingConfigError,
    matching_routes,
    parse_duration,
    receiver_integrations,
    route_for,
    routed_integrations,
    routed_receivers,
)

DATA = Path(__file__).parent / "data"
# the platform's tree as Alertmanager 0.25 hands it back from /api/v2/status: critical ->
# oncall (slack, email, webhook; group_wait 2s), warning -> team-slack (slack), default
# team-slack; the root groups by alertname and service, waits 1s, 5s, 1h
PLATFORM: dict[str, Any] = yaml.safe_load(
    json.loads((DATA / "alertmanager-0.25-status.json").read_text())["config"]["original"]
)


def test_the_platforms_routes() -> None:
    critical = {"alertname": "UsersServiceDown", "service": "users", "severity": "critical"}
    assert routed_receivers(PLATFORM, critical) == ("oncall",)
    assert routed_integrations(PLATFORM, critical) == ("webhook", "slack", "email")
    assert routed_integrations(PLATFORM, {"alertname": "NodeHighCPU", "severity": "warning"}) == (
        "slack",
    )
    assert routed_receivers(PLATFORM, {"alertname": "X"}) == ("team-slack",)  # the default
    assert routed_receivers(PLATFORM, {"alertname": "X", "severity": "info"}) == ("team-slack",)


def test_the_route_that_takes_an_alert_inherits_its_parents_settings() -> None:
    critical = route_for(PLATFORM, {"alertname": "A", "service": "users", "severity": "critical"})
    assert critical == Route(
        receiver="oncall",
        group_by=("alertname", "service"),
        group_wait_s=2.0,  # its own
        group_interval_s=5.0,  # the root's
        repeat_interval_s=3600.0,
        path=(0,),
    )
    assert critical.group_labels({"alertname": "A", "service": "users", "x": "1"}) == {
        "alertname": "A",
        "service": "users",
    }
    default = route_for(PLATFORM, {"alertname": "A"})
    assert (default.path, default.group_wait_s) == ((), 1.0)
    assert default.group_labels({"alertname": "A"}) == {"alertname": "A"}  # service absent


def test_alertmanagers_defaults_apply_when_the_root_sets_nothing() -> None:
    config = {"route": {"receiver": "r"}, "receivers": [{"name": "r"}]}
    route = route_for(config, {"alertname": "A"})
    assert (route.group_by, route.group_wait_s, route.group_interval_s) == ((), 30.0, 300.0)
    assert route.repeat_interval_s == 4 * 3600.0
    assert routed_integrations(config, {"alertname": "A"}) == ()  # a null receiver


def tree(*routes: dict[str, Any], **root: Any) -> dict[str, Any]:
    names = {"root", *(r.get("receiver", "root") for r in routes)}
    for route in routes:
        names |= {child.get("receiver", "root") for child in route.get("routes", [])}
    return {
        "route": {"receiver": "root", **root, "routes": list(routes)},
        "receivers": [
            {"name": name, "webhook_configs": [{"url": f"http://127.0.0.1:1/{name}"}]}
            for name in sorted(names)
        ],
    }


MATCHER_CASES = [
    ('severity="critical"', {"severity": "critical"}, True),
    ('severity="critical"', {"severity": "warning"}, False),
    ('severity!="critical"', {"severity": "warning"}, True),
    ('severity!="critical"', {}, True),
    ('service=~"users|iot"', {"service": "iot"}, True),
    ('service=~"users|iot"', {"service": "iot-2"}, False),  # anchored
    ('service!~"users|iot"', {"service": "orders"}, True),
    ('service!~"users|iot"', {"service": "users"}, False),
    ('team=""', {}, True),  # a missing label is ""
    ("severity=critical", {"severity": "critical"}, True),  # unquoted value
    ('{service="users", severity="critical"}', {"service": "users", "severity": "critical"}, True),
    ('{service="users", severity="critical"}', {"service": "users"}, False),
    ('summary="a \\"quoted\\" word, here"', {"summary": 'a "quoted" word, here'}, True),
]


@pytest.mark.parametrize(("matcher", "labels", "taken"), MATCHER_CASES)
def test_matchers(matcher: str, labels: dict[str, str], taken: bool) -> None:
    config = tree({"matchers": [matcher], "receiver": "child"})
    assert routed_receivers(config, labels) == (("child",) if taken else ("root",))


def test_legacy_match_and_match_re() -> None:
    config = tree(
        {"match": {"severity": "critical"}, "match_re": {"service": "us.*"}, "receiver": "c"}
    )
    assert routed_receivers(config, {"severity": "critical", "service": "users"}) == ("c",)
    assert routed_receivers(config, {"severity": "critical", "service": "xusers"}) == ("root",)


CONTINUE_TREE = tree(
    {"matchers": ['severity="critical"'], "receiver": "pager", "continue": True},
    {
        "matchers": ['service=~"users|iot"'],
        "receiver": "services",
        "group_by": ["alertname"],
        "routes": [
            {"matchers": ['alertname="UsersServiceDown"'], "receiver": "users-team"},
            {"matchers": ['alertname=~".*Down"'], "group_wait": "10s"},  # inherits services
        ],
    },
    {"matchers": ['service="users"'], "receiver": "never"},  # after a match without continue
    group_by=["alertname", "service"],
    group_wait="1s",
)


def test_continue_and_first_match_like_alertmanager() -> None:
    down = {"alertname": "UsersServiceDown", "service": "users", "severity": "critical"}
    assert routed_receivers(CONTINUE_TREE, down) == ("pager", "users-team")
    iot = {"alertname": "IoTServiceDown", "service": "iot"}
    (route,) = matching_routes(CONTINUE_TREE, iot)
    assert route == Route("services", ("alertname",), 10.0, 300.0, 14400.0, (1, 1))
    # a child matched by none of its children takes the alert itself
    assert routed_receivers(CONTINUE_TREE, {"alertname": "IoTHighErrorRate", "service": "iot"}) == (
        "services",
    )
    assert route_for(CONTINUE_TREE, {"alertname": "X"}).receiver == "root"


LABEL_SETS = [
    {"alertname": "UsersServiceDown", "service": "users", "severity": "critical"},
    {"alertname": "IoTServiceDown", "service": "iot"},
    {"alertname": "IoTHighErrorRate", "service": "iot", "severity": "warning"},
    {"alertname": "NodeHighCPU", "component": "node", "severity": "warning"},
    {"alertname": "GatewayHighLatency", "service": "gateway", "severity": "critical"},
    {"alertname": "X"},
]


@pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool (prometheus-alertmanager) not installed"
)
@pytest.mark.parametrize("config", [PLATFORM, CONTINUE_TREE], ids=["platform", "continue"])
@pytest.mark.parametrize("labels", LABEL_SETS, ids=[labels["alertname"] for labels in LABEL_SETS])
@pytest.mark.tools
def test_the_walk_agrees_with_amtool(
    config: dict[str, Any], labels: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    answer = subprocess.run(
        ["amtool", "config", "routes", "test", f"--config.file={path}"]
        + [f"{name}={value}" for name, value in labels.items()],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert tuple(answer.stdout.strip().split(",")) == routed_receivers(config, labels)


def test_integrations_of_a_receiver() -> None:
    config = {
        "route": {"receiver": "all"},
        "receivers": [
            {
                "name": "all",
                "pagerduty_configs": [{"routing_key": "<secret>"}],
                "email_configs": [{"to": "a@b"}],
                "opsgenie_configs": [],  # empty: not an integration
                "webhook_configs": [{"url": "http://x"}],
            }
        ],
    }
    assert receiver_integrations(config, "all") == ("webhook", "email", "pagerduty")
    with pytest.raises(RoutingConfigError, match="receiver 'nobody' is routed to but not defined"):
        receiver_integrations(config, "nobody")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1s", 1.0),
        ("500ms", 0.5),
        ("1h30m", 5400.0),
        ("2d", 172800.0),
        ("1w", 604800.0),
        ("0", 0.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"receivers": []}, "has no 'route'"),
        ([], "is not a mapping"),
        ({"route": {"group_by": ["a"]}}, r"route.receiver: None must name a receiver"),
        ({"route": {"receiver": "r", "group_wait": "soon"}}, "route.group_wait: 'soon' is not an"),
        ({"route": {"receiver": "r", "group_wait": 30}}, "is not an alertmanager duration"),
        (tree({"matchers": ["severity"]}), r"route.routes\[0\].matchers\[0\]: 'severity' is not"),
        (tree({"matchers": ['a=~"("']}), "bad regular expression"),
        (tree({"matchers": 'a="b"'}), "must be a list of matchers"),
        (tree({"match": ["a"]}), "must map label names to values"),
        ({"route": {"receiver": "r", "routes": {"a": 1}}}, "must be a list of routes"),
        ({"route": {"receiver": "r", "group_by": "alertname"}}, "must be a list of label names"),
    ],
)
def test_malformed_configs_are_named(config: Any, message: str) -> None:
    with pytest.raises(RoutingConfigError, match=message):
        routed_integrations(config, {"alertname": "A", "a": "b"})
