"""The notification sink in a cluster (manifests/suite): deliveries on one port, admitted from
Alertmanager's pods only; reads on another, admitted from the runner's pods only; the token it
requires from a Secret that is never in git; every suite object valid for the API server."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from refstack.service_env import service_env
from tests.unit.manifests.openapi import schema_problems
from tests.unit.manifests.support import MANIFESTS, Obj, container, find, pod_spec

pytestmark = pytest.mark.tools  # kubectl renders the manifests; the API schemas from Go's cache

SINK = "notification-sink"
REFERENCE = MANIFESTS / "alertmanager" / "alertmanager.yml"
TOKEN_DIR = "/etc/notification-sink"


def _one(objects: list[Obj], kind: str, name: str) -> Obj:
    (found,) = find(objects, kind, name)
    return found


def _pod_labels(workload: Obj) -> dict[str, str]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    labels: dict[str, str] = spec["template"]["metadata"]["labels"]
    return labels


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}, selector  # no expressions to evaluate here
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def _alertmanager_namespace() -> str:
    """Where the suite's target file looks for Alertmanager (``<svc>.<namespace>.svc...``)."""
    target = yaml.safe_load((MANIFESTS / "suite" / "target.yaml").read_text())
    host = urlsplit(target["alertmanager"]["url"]).hostname or ""
    return host.split(".")[1]


def test_deliveries_and_reads_have_a_port_each(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["suite"]
    sink = container(_one(objects, "Deployment", SINK))
    command = sink["command"]
    assert command[:2] == ["chaosgate", "sink"]
    deliveries, reads = int(_option(command, "--port")), int(_option(command, "--query-port"))
    service = _one(objects, "Service", SINK)
    assert [(p["name"], p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [
        ("http", deliveries, "http"),
        ("query", reads, "query"),
    ]
    assert sink["ports"] == [
        {"name": "http", "containerPort": deliveries, "protocol": "TCP"},
        {"name": "query", "containerPort": reads, "protocol": "TCP"},
    ]
    assert sink["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    # the runner reads at the query port, through the Service variables kubelet injects
    env = service_env(
        [{**service, "spec": {**service["spec"], "clusterIP": "10.0.0.7"}}],
        apiserver_host="127.0.0.1",
        apiserver_port=6443,
    )
    for runner in (
        _one(objects, "Job", "chaosgate-gate"),
        _one(objects, "CronJob", "chaosgate-nightly"),
    ):
        (url,) = [
            e["value"] for e in container(runner)["env"] if e["name"] == "CHAOSGATE_SINK__URL"
        ]
        for name, value in env.items():
            url = url.replace(f"$({name})", value)
        # (the local node's variables map a ClusterIP 10.b.c.d to 127.b.c.d)
        assert url == f"http://127.0.0.7:{reads}", runner["metadata"]["name"]
    # and Alertmanager delivers at the other one, with the sink's token
    (hook,) = yaml.safe_load(REFERENCE.read_text())["receivers"][0]["webhook_configs"]
    assert urlsplit(hook["url"]).netloc == f"{SINK}.chaosgate.svc:{deliveries}"
    assert urlsplit(hook["url"]).path == "/alerts"


def test_the_sink_reads_its_token_from_a_secret_that_is_not_in_git(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["suite"]
    deployment = _one(objects, "Deployment", SINK)
    sink = container(deployment)
    assert Path(_option(sink["command"], "--token-file")) == Path(TOKEN_DIR) / "token"
    (mount,) = [m for m in sink["volumeMounts"] if m["mountPath"] == TOKEN_DIR]
    assert mount["readOnly"] is True
    (volume,) = [v for v in pod_spec(deployment)["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == "notification-sink-token"
    assert volume["secret"]["items"] == [{"key": "token", "path": "token"}]
    assert volume["secret"]["defaultMode"] == 0o400
    assert find(objects, "Secret") == []  # the deployer creates it (manifests/README.md)
    assert all("TOKEN" not in item["name"] for item in sink.get("env", []))


def test_only_alertmanager_delivers_to_the_sink_and_only_the_runner_reads(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["suite"]
    policy = _one(objects, "NetworkPolicy", SINK)
    deployment = _one(objects, "Deployment", SINK)
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    assert policy["metadata"]["namespace"] == deployment["metadata"]["namespace"] == "chaosgate"
    spec = policy["spec"]
    assert _selects(spec["podSelector"], _pod_labels(deployment))
    assert spec["policyTypes"] == ["Ingress"]  # isolated for ingress: nothing else gets in
    ports = {p["name"] for p in container(deployment)["ports"]}
    by_port: dict[str, list[dict[str, Any]]] = {}
    for rule in spec["ingress"]:
        assert rule.get("from"), f"a rule without `from` admits every source: {rule}"
        (port,) = rule["ports"]
        assert port["protocol"] == "TCP" and port["port"] in ports, port
        assert all("ipBlock" not in peer for peer in rule["from"]), rule
        by_port[port["port"]] = rule["from"]
    assert set(by_port) == {"http", "query"}
    # deliveries: one peer selecting Alertmanager's pods in Alertmanager's namespace (both
    # selectors in one peer: pod AND namespace)
    assert by_port["http"] == [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": _alertmanager_namespace()}
            },
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "alertmanager"}},
        }
    ]
    # reads: the runner's pods of both the gate Job and the nightly CronJob, and nobody else
    (reader,) = by_port["query"]
    assert set(reader) == {"podSelector"}  # this namespace only
    runners = [
        _one(objects, "Job", "chaosgate-gate"),
        _one(objects, "CronJob", "chaosgate-nightly"),
    ]
    assert all(_selects(reader["podSelector"], _pod_labels(r)) for r in runners)
    others = [w for w in find(objects, "Deployment") if w["metadata"]["name"] != SINK]
    assert others and not any(_selects(reader["podSelector"], _pod_labels(w)) for w in others)


def test_every_suite_object_is_valid_for_the_api_server(rendered: dict[str, list[Obj]]) -> None:
    problems = [p for obj in rendered["suite"] for p in schema_problems(obj)]
    assert problems == []


def test_the_schema_check_names_what_the_api_server_would_refuse(
    rendered: dict[str, list[Obj]],
) -> None:
    broken = copy.deepcopy(_one(rendered["suite"], "NetworkPolicy", SINK))
    broken["spec"]["ingress"][0]["ports"][0]["portt"] = 9095
    broken["spec"]["ingress"][1]["from"][0]["podSelector"]["matchLabels"]["x"] = 1
    broken["spec"]["policyTypes"] = "Ingress"
    assert schema_problems(broken) == [
        "NetworkPolicy/notification-sink.spec.ingress[0].ports[0]: unknown field 'portt'",
        "NetworkPolicy/notification-sink.spec.ingress[1].from[0].podSelector.matchLabels.x: "
        "1 is not of type string",
        "NetworkPolicy/notification-sink.spec.policyTypes: 'Ingress' is not of type array",
    ]
