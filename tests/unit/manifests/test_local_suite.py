"""The suite as `chaosgate stack suite` deploys it: manifests/overlays/local-suite in the
launcher's wrapper (refstack/launcher/k8s_suite.py), rendered by the real kubectl."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosgate.target import load_target
from refstack.launcher.k8s_suite import (
    GATE_JOB,
    NIGHTLY_CRONJOB,
    SUITE_NAMESPACE,
    in_cluster_target,
    suite_kustomization,
)
from refstack.launcher.ports import DEFAULT_PORTS
from tests.unit.manifests.support import MANIFESTS, Obj, container, find, pod_spec, render

pytestmark = pytest.mark.tools  # needs the kubectl scripts/test builds

PORTS = {**DEFAULT_PORTS, "sink": 19095, "gateway_nodeport": 30123, "store": 19200}


@pytest.fixture(scope="module")
def local_suite(kubectl: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Obj]:
    deploy_dir = tmp_path_factory.mktemp("suite")
    (deploy_dir / "target.yaml").write_text(yaml.safe_dump(in_cluster_target(PORTS, "node-a")))
    overlay = MANIFESTS / "overlays" / "local-suite"
    (deploy_dir / "kustomization.yaml").write_text(suite_kustomization(overlay, deploy_dir, PORTS))
    return render(kubectl, deploy_dir)


def _runners(objects: list[Obj]) -> list[Obj]:
    return [*find(objects, "Job", GATE_JOB), *find(objects, "CronJob", NIGHTLY_CRONJOB)]


def _env(workload: Obj) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(workload)["env"]}


def test_the_target_configmap_is_a_valid_target_of_this_stack(
    local_suite: list[Obj], tmp_path: Path
) -> None:
    (config_map,) = [
        c
        for c in find(local_suite, "ConfigMap")
        if c["metadata"]["name"].startswith("chaosgate-target")
    ]
    target_file = tmp_path / "target.yaml"
    target_file.write_text(config_map["data"]["target.yaml"])
    target = load_target(target_file, env={})
    assert target.gateway_url == "http://127.0.0.1:30123"
    assert target.elasticsearch.url == "http://127.0.0.1:19200"
    assert target.kubernetes is not None and target.kubernetes.kubeconfig is None
    assert target.kubernetes.namespaces == ("restaurant",)
    assert target.kubernetes.stress_node == "node-a"
    assert target.chaos == "kubernetes"
    # and every runner mounts that ConfigMap (its generated name, hash included)
    for runner in _runners(local_suite):
        volumes = {v["name"]: v for v in pod_spec(runner)["volumes"]}
        assert volumes["target"]["configMap"]["name"] == config_map["metadata"]["name"]


def test_runners_read_the_stacks_sink_and_keep_state_in_their_own_volume(
    local_suite: list[Obj],
) -> None:
    runners = _runners(local_suite)
    assert len(runners) == 2
    for runner in runners:
        env = _env(runner)
        assert env["CHAOSGATE_SINK__URL"] == "http://127.0.0.1:19095"
        assert env["CHAOSGATE_STATE_DIR"] == "/var/lib/chaosgate"
        assert env["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        mounts = {m["mountPath"]: m["name"] for m in container(runner)["volumeMounts"]}
        volumes = {v["name"]: v for v in pod_spec(runner)["volumes"]}
        assert "emptyDir" in volumes[mounts["/var/lib/chaosgate"]]
        assert "emptyDir" in volumes[mounts["/reports"]]


def test_no_pod_claims_a_security_context_the_process_node_cannot_honour(
    local_suite: list[Obj],
) -> None:
    workloads = [o for o in local_suite if o["kind"] in ("Deployment", "Job", "CronJob")]
    assert {o["metadata"]["name"] for o in workloads} == {
        "locust-worker",
        GATE_JOB,
        NIGHTLY_CRONJOB,
    }
    for workload in workloads:
        assert "securityContext" not in pod_spec(workload), workload["metadata"]["name"]
        assert "securityContext" not in container(workload), workload["metadata"]["name"]


def test_the_sink_is_the_stacks_own_and_the_nightly_waits_to_be_triggered(
    local_suite: list[Obj],
) -> None:
    names = {(o["kind"], o["metadata"]["name"]) for o in local_suite}
    assert not {n for n in names if n[1] == "notification-sink"}, names
    assert ("Service", "locust-master") in names  # the workers' way to the runner stays
    (nightly,) = find(local_suite, "CronJob", NIGHTLY_CRONJOB)
    assert nightly["spec"]["suspend"] is True
    assert all(
        o["metadata"].get("namespace") in (SUITE_NAMESPACE, "restaurant", None) for o in local_suite
    )
