"""The pod fault switches (chaosgate.chaos.k8s_faults) against the in-memory Kubernetes API
(tests/unit/chaos/fake_k8s.py) and real HTTP servers standing in for the pods: one
pytest-httpserver per pod, each on the pod's own loopback IP and the same container port, as
the local node runs them. Addresses outside loopback are only ever handed to an httpx mock
transport, never connected to."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from chaoslib.exceptions import ActivityFailed
from pytest_httpserver import HTTPServer

from chaosgate.chaos.k8s_faults import IN_CLUSTER_ENV, clear_pod_faults, set_pod_faults
from chaosgate.chaos.k8s_namespaces import experiment_activities
from tests.support.servers import QuickStopHTTPServer
from tests.unit.chaos.fake_k8s import FakeKube, service_pod
from tests.unit.chaos.support import experiment

ORDERS = {"app.kubernetes.io/name": "orders"}
USERS = {"app.kubernetes.io/name": "users"}
SELECTOR = "app.kubernetes.io/name=orders"
PATH = "/admin/faults"
OFF = {"latency_ms": 0, "error_ratio": 0.0, "route_prefix": "/api", "db_hold_ms": 0}
NO_ENV: dict[str, str] = {}

PodServer = Callable[[str], HTTPServer]


@pytest.fixture
def pod_server() -> Iterator[PodServer]:
    """Start an HTTP server on a pod's loopback IP; every one shares the first one's port."""
    started: list[HTTPServer] = []

    def start(ip: str) -> HTTPServer:
        server = QuickStopHTTPServer(host=ip, port=started[0].port if started else 0)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.clear()
        if server.is_running():
            server.stop()


def _bodies(server: HTTPServer) -> list[tuple[str, Any]]:
    return [
        (request.method, json.loads(request.data) if request.data else None)
        for request, _ in server.log
    ]


def _answer_put(server: HTTPServer, faults: dict[str, Any]) -> None:
    answer = {**OFF, **faults}
    server.expect_request(PATH, method="PUT", json=faults).respond_with_json(answer)


def _answer_delete(server: HTTPServer) -> None:
    server.expect_request(PATH, method="DELETE").respond_with_json(OFF)


# --- set_pod_faults --------------------------------------------------------------------------


def test_every_ready_pod_of_the_selector_gets_the_put_at_its_own_ip(
    pod_server: PodServer,
) -> None:
    first, second = pod_server("127.1.0.11"), pod_server("127.1.0.12")
    port = first.port
    faults = {"error_ratio": 0.25, "route_prefix": "/api/orders", "methods": ["POST"]}
    _answer_put(first, faults)
    _answer_put(second, faults)
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.11", port=port))
    fake.add(service_pod("orders-b", ORDERS, ip="127.1.0.12", port=port))
    # not serving, so neither faulted nor contacted (nothing listens at their IPs)
    fake.add(service_pod("orders-c", ORDERS, ip="127.1.0.13", port=port, ready=False))
    fake.add(service_pod("orders-d", ORDERS, ip="127.1.0.14", port=port, terminating=True))
    fake.add(service_pod("users-a", USERS, ip="127.1.0.15", port=port))

    result = set_pod_faults(SELECTOR, "restaurant", faults, api=fake.client(), environ=NO_ENV)

    assert _bodies(first) == [("PUT", faults)]
    assert _bodies(second) == [("PUT", faults)]
    assert [(p["pod"], p["url"]) for p in result["pods"]] == [
        ("orders-a", f"http://127.1.0.11:{port}{PATH}"),
        ("orders-b", f"http://127.1.0.12:{port}{PATH}"),
    ]
    assert all(p["faults"] == {**OFF, **faults} for p in result["pods"])
    assert result["not_ready"] == ["orders-c", "orders-d"]
    assert (result["namespace"], result["label_selector"]) == ("restaurant", SELECTOR)
    listed = [(method, path) for method, path, _ in fake.requests]
    assert listed == [("GET", "/api/v1/namespaces/restaurant/pods")]


def test_the_port_argument_wins_over_the_container_port(pod_server: PodServer) -> None:
    server = pod_server("127.1.0.21")
    _answer_put(server, {"latency_ms": 1500})
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.21", port=None))

    with pytest.raises(ActivityFailed, match="declares no container port; give the service's"):
        set_pod_faults(SELECTOR, "restaurant", {"latency_ms": 1500}, api=fake.client())
    result = set_pod_faults(
        SELECTOR, "restaurant", {"latency_ms": 1500}, port=server.port,
        api=fake.client(), environ=NO_ENV,
    )  # fmt: skip
    assert result["pods"][0]["faults"]["latency_ms"] == 1500
    assert _bodies(server) == [("PUT", {"latency_ms": 1500})]


def test_a_refused_setting_passes_the_services_message_on_after_trying_every_pod(
    pod_server: PodServer,
) -> None:
    first, second = pod_server("127.1.0.31"), pod_server("127.1.0.32")
    message = "unknown fault setting 'error_rate'; use any of db_hold_ms, error_ratio"
    first.expect_request(PATH, method="PUT").respond_with_json({"error": message}, status=400)
    _answer_put(second, {"error_rate": 1})
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.31", port=first.port))
    fake.add(service_pod("orders-b", ORDERS, ip="127.1.0.32", port=first.port))

    with pytest.raises(ActivityFailed) as raised:
        set_pod_faults(SELECTOR, "restaurant", {"error_rate": 1}, api=fake.client())

    text = str(raised.value)
    assert f"(pod 'orders-a') answered HTTP 400: {message}" in text
    assert "set on: orders-b; clear_pod_faults clears them" in text
    assert _bodies(second) == [("PUT", {"error_rate": 1})]


def test_an_admin_endpoint_that_is_off_says_how_to_turn_it_on(pod_server: PodServer) -> None:
    server = pod_server("127.1.0.41")
    # what Flask answers for a route the service does not have (CHAOSGATE_ADMIN_FAULTS unset)
    server.expect_request(PATH).respond_with_data("<h1>Not Found</h1>", status=404)
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.41", port=server.port))
    with pytest.raises(ActivityFailed, match=r"answered 404.*CHAOSGATE_ADMIN_FAULTS=1"):
        set_pod_faults(SELECTOR, "restaurant", {"error_ratio": 0.5}, api=fake.client())


def test_a_pod_that_does_not_answer_fails_the_action_naming_the_others(
    pod_server: PodServer,
) -> None:
    server = pod_server("127.1.0.51")
    _answer_put(server, {"db_hold_connections": 5})
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.51", port=server.port))
    fake.add(service_pod("orders-b", ORDERS, ip="127.1.0.52", port=server.port))  # nothing there

    with pytest.raises(ActivityFailed) as raised:
        set_pod_faults(SELECTOR, "restaurant", {"db_hold_connections": 5}, api=fake.client())

    text = str(raised.value)
    assert f"PUT http://127.1.0.52:{server.port}{PATH} (pod 'orders-b') failed: Connect" in text
    assert "(set on: orders-a;" in text


@pytest.mark.parametrize("ip", ["10.1.2.3", "192.168.1.7", "172.16.0.4", "8.8.8.8", "::1"])
def test_outside_a_cluster_a_pod_ip_off_loopback_is_refused_before_any_request(
    pod_server: PodServer, ip: str
) -> None:
    server = pod_server("127.1.0.61")
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.61", port=server.port))
    fake.add(service_pod("orders-b", ORDERS, ip=ip, port=server.port))
    actions: list[Callable[[], object]] = [
        lambda: set_pod_faults(SELECTOR, "restaurant", {"error_ratio": 1}, api=fake.client(),
                               environ=NO_ENV),
        lambda: clear_pod_faults(SELECTOR, "restaurant", api=fake.client(), environ=NO_ENV),
    ]  # fmt: skip
    for action in actions:
        with pytest.raises(ActivityFailed) as raised:
            action()
        assert f"refusing to connect to pod 'orders-b' at {ip!r}" in str(raised.value)
        assert IN_CLUSTER_ENV in str(raised.value)
    assert server.log == []  # not even the loopback pod was faulted: nothing half-done


def test_inside_a_cluster_pod_ips_are_reached_as_they_are() -> None:
    seen: list[tuple[str, str, Any]] = []

    def pod_http(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, str(request.url), body))
        return httpx.Response(200, json={**OFF, **(body or {})})

    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="10.244.1.7", port=8081))
    fake.add(service_pod("orders-b", ORDERS, ip="fd00::7", port=8081))
    http = httpx.Client(transport=httpx.MockTransport(pod_http))
    in_cluster = {IN_CLUSTER_ENV: "10.96.0.1"}

    set_pod_faults(
        SELECTOR, "restaurant", {"error_ratio": 0.5}, api=fake.client(), http=http,
        environ=in_cluster,
    )  # fmt: skip
    clear_pod_faults(SELECTOR, "restaurant", api=fake.client(), http=http, environ=in_cluster)

    assert seen == [
        ("PUT", f"http://10.244.1.7:8081{PATH}", {"error_ratio": 0.5}),
        ("PUT", f"http://[fd00::7]:8081{PATH}", {"error_ratio": 0.5}),
        ("DELETE", f"http://10.244.1.7:8081{PATH}", None),
        ("DELETE", f"http://[fd00::7]:8081{PATH}", None),
    ]
    assert not http.is_closed  # a client handed in stays the caller's


def test_no_ready_pod_is_an_error_naming_what_matched() -> None:
    fake = FakeKube()
    with pytest.raises(ActivityFailed, match=r"no ready pod .* \(none matches\); check kubectl"):
        set_pod_faults(SELECTOR, "restaurant", {"error_ratio": 1}, api=fake.client())
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.71", port=8081, ready=False))
    fake.add(service_pod("orders-b", ORDERS, ip="127.1.0.72", port=8081, phase="Pending"))
    with pytest.raises(ActivityFailed, match=r"matching, none ready: orders-a, orders-b"):
        set_pod_faults(SELECTOR, "restaurant", {"error_ratio": 1}, api=fake.client())


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"label_selector": " "}, "would match every pod of namespace 'restaurant'"),
        ({"faults": {}}, r"faults \{\} is not a fault to set; give a JSON object"),
        ({"faults": ["error_ratio"]}, r"faults \['error_ratio'\] is not a fault to set"),
        ({"port": 0}, "port 0 is not a TCP port"),
        ({"port": "8081"}, "port '8081' is not a TCP port"),
        ({"port": True}, "port True is not a TCP port"),
    ],
)
def test_bad_arguments_are_refused_before_the_cluster_is_asked(
    arguments: dict[str, Any], message: str
) -> None:
    fake = FakeKube()
    given: dict[str, Any] = {"label_selector": SELECTOR, "faults": {"error_ratio": 1}, **arguments}
    with pytest.raises(ActivityFailed, match=message):
        set_pod_faults(ns="restaurant", api=fake.client(), **given)
    assert fake.requests == []


def test_a_refused_pod_list_is_the_api_servers_reason() -> None:
    fake = FakeKube(pod_list_error=(403, "Forbidden"))
    actions: list[Callable[[], object]] = [
        lambda: set_pod_faults(SELECTOR, "restaurant", {"error_ratio": 1}, api=fake.client()),
        lambda: clear_pod_faults(SELECTOR, "restaurant", api=fake.client()),
    ]
    for action in actions:
        with pytest.raises(
            ActivityFailed, match=r"cannot list pods .* in namespace 'restaurant': 403 pods"
        ):
            action()


# --- clear_pod_faults ------------------------------------------------------------------------


def test_clearing_reaches_every_pod_with_an_ip_ready_or_not(pod_server: PodServer) -> None:
    first, second = pod_server("127.1.0.81"), pod_server("127.1.0.82")
    _answer_delete(first)
    _answer_delete(second)
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.81", port=first.port))
    # a fault may be what made it unready: it is cleared too
    fake.add(service_pod("orders-b", ORDERS, ip="127.1.0.82", port=first.port, ready=False))
    never_served = service_pod("orders-c", ORDERS, ip="x", port=first.port, phase="Pending")
    del never_served["status"]["podIP"]
    fake.add(never_served)

    result = clear_pod_faults(SELECTOR, "restaurant", api=fake.client(), environ=NO_ENV)

    assert _bodies(first) == [("DELETE", None)] and _bodies(second) == [("DELETE", None)]
    assert [(p["pod"], p["faults"]) for p in result["pods"]] == [
        ("orders-a", OFF),
        ("orders-b", OFF),
    ]
    assert (result["gone"], result["no_ip"]) == ([], ["orders-c"])


def test_clearing_tolerates_pods_that_went_away_but_not_one_still_there(
    pod_server: PodServer,
) -> None:
    server = pod_server("127.1.0.91")
    _answer_delete(server)
    port = server.port
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.91", port=port))
    # nothing listens at these: b is deleted, c terminates, d got a new IP before the re-list
    for name, ip in (("b", "127.1.0.92"), ("c", "127.1.0.93"), ("d", "127.1.0.94")):
        fake.add(service_pod(f"orders-{name}", ORDERS, ip=ip, port=port))
    lists: list[str] = []

    def pods_move_on(kube: FakeKube, selector: str) -> None:
        lists.append(selector)
        if len(lists) == 2:
            del kube.pods[("restaurant", "orders-b")]
            kube.add(service_pod("orders-c", ORDERS, ip="127.1.0.93", port=port, terminating=True))
            kube.add(service_pod("orders-d", ORDERS, ip="127.1.0.95", port=port))

    fake.on_list_pods = pods_move_on
    result = clear_pod_faults(SELECTOR, "restaurant", api=fake.client(), environ=NO_ENV)

    assert [p["pod"] for p in result["pods"]] == ["orders-a"]
    assert result["gone"] == [
        {"pod": "orders-b", "why": "deleted"},
        {"pod": "orders-c", "why": "terminating"},
        {"pod": "orders-d", "why": "its pod IP is now '127.1.0.95'"},
    ]
    assert lists == [SELECTOR, SELECTOR]

    # a pod that does not answer but is still running there is not cleared: an error
    fake.on_list_pods = None
    fake.pods.clear()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.91", port=port))
    fake.add(service_pod("orders-e", ORDERS, ip="127.1.0.96", port=port))
    with pytest.raises(ActivityFailed) as raised:
        clear_pod_faults(SELECTOR, "restaurant", api=fake.client(), environ=NO_ENV)
    text = str(raised.value)
    assert f"DELETE http://127.1.0.96:{port}{PATH} (pod 'orders-e') failed: Connect" in text
    assert "the pod is still running there" in text and "(cleared on: orders-a)" in text


def test_clearing_with_no_pod_left_is_nothing_to_do() -> None:
    fake = FakeKube()
    result = clear_pod_faults(SELECTOR, "restaurant", api=fake.client())
    assert (result["pods"], result["gone"], result["no_ip"]) == ([], [], [])


def test_a_clear_refused_by_the_service_is_an_error(pod_server: PodServer) -> None:
    server = pod_server("127.1.0.101")
    server.expect_request(PATH, method="DELETE").respond_with_data("busy", status=503)
    fake = FakeKube()
    fake.add(service_pod("orders-a", ORDERS, ip="127.1.0.101", port=server.port))
    with pytest.raises(ActivityFailed, match=r"answered HTTP 503: busy \(cleared on: none\)"):
        clear_pod_faults(SELECTOR, "restaurant", api=fake.client(), environ=NO_ENV)


# --- the namespace allowlist -----------------------------------------------------------------


def test_the_allowlist_sees_the_namespace_of_both_actions() -> None:
    def action(name: str, func: str, **arguments: Any) -> dict[str, Any]:
        provider = {"type": "python", "module": "chaosgate.chaos.k8s_faults", "func": func}
        return {"type": "action", "name": name, "provider": {**provider, "arguments": arguments}}

    doc = experiment(
        method=[action("fault", "set_pod_faults", label_selector=SELECTOR, ns="payments",
                       faults={"error_ratio": 1})],
        rollbacks=[action("clear", "clear_pod_faults", label_selector=SELECTOR, ns="${ns}")],
    )  # fmt: skip
    doc["configuration"] = {"ns": "shop"}
    found = {
        activity.name: [(use.namespace, use.via) for use in activity.namespaces]
        for activity in experiment_activities(doc, source="x")
    }
    assert found["fault"] == [("payments", "its ns argument")]
    assert found["clear"] == [("shop", "its ns argument")]
