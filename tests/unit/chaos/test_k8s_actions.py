"""chaosgate's Kubernetes actions and probes against an in-memory API behind the client's
transport (tests/unit/chaos/fake_k8s.py): what they send, what they wait for, how they fail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.k8s_actions import (
    DETACHED_LABEL,
    ORIGINAL_SELECTOR_ANNOTATION,
    detach_service,
    reattach_service,
    start_stress,
    stop_stress,
)
from chaosgate.chaos.k8s_probes import pods_gone, service_has_ready_pods
from tests.support.clocks import FakeClock
from tests.unit.chaos.fake_k8s import FakeKube, pod, service

REPO_ROOT = Path(__file__).resolve().parents[3]
CPU_SPEC = "manifests/chaos/stress-cpu.yaml"
ORDERS = {"app.kubernetes.io/name": "orders"}


def _orders(fake: FakeKube) -> dict[str, Any]:
    return fake.services[("restaurant", "orders")]


# --- detach / reattach -----------------------------------------------------------------------


def test_detach_keeps_the_service_and_its_cluster_ip_but_selects_no_pod() -> None:
    fake = FakeKube()
    fake.add(service("orders", ORDERS))
    fake.add(pod("orders-1", ORDERS))

    result = detach_service("orders", "restaurant", api=fake.client())

    after = _orders(fake)
    assert after["spec"]["selector"] == {DETACHED_LABEL: "orders"}
    assert after["spec"]["clusterIP"] == "10.96.0.42"
    assert json.loads(after["metadata"]["annotations"][ORIGINAL_SELECTOR_ANNOTATION]) == ORDERS
    assert result["detached"] is True and result["cluster_ip"] == "10.96.0.42"
    # one read, one strategic-merge patch made under the read resourceVersion
    method, path, patch = fake.requests[-1]
    assert (method, path) == ("PATCH", "/api/v1/namespaces/restaurant/services/orders")
    assert patch["metadata"]["resourceVersion"] == "1"
    assert patch["spec"]["selector"] == {"app.kubernetes.io/name": None, DETACHED_LABEL: "orders"}
    with pytest.raises(ActivityFailed, match="is detached from its pods"):
        service_has_ready_pods("orders", "restaurant", api=fake.client())


def test_detach_twice_keeps_the_first_original_and_reattach_restores_it() -> None:
    fake = FakeKube()
    fake.add(service("orders", {**ORDERS, "tier": "backend"}))
    api = fake.client()
    detach_service("orders", "restaurant", api=api)
    again = detach_service("orders", "restaurant", api=api)
    assert again["detached"] is False
    assert again["original_selector"] == {**ORDERS, "tier": "backend"}
    assert [m for m, _, _ in fake.requests].count("PATCH") == 1

    restored = reattach_service("orders", "restaurant", api=api)
    after = _orders(fake)
    assert restored["reattached"] is True
    assert after["spec"]["selector"] == {**ORDERS, "tier": "backend"}
    assert ORIGINAL_SELECTOR_ANNOTATION not in after["metadata"]["annotations"]
    # a second rollback (or one after a crash that left nothing to do) changes nothing
    assert reattach_service("orders", "restaurant", api=api)["reattached"] is False
    assert [m for m, _, _ in fake.requests].count("PATCH") == 2


def test_a_concurrent_change_is_read_again() -> None:
    fake = FakeKube(conflicts=2)
    fake.add(service("orders", ORDERS))
    detach_service("orders", "restaurant", api=fake.client())
    assert [m for m, _, _ in fake.requests] == ["GET", "PATCH"] * 3
    assert _orders(fake)["spec"]["selector"] == {DETACHED_LABEL: "orders"}


def test_endless_conflicts_fail_with_advice() -> None:
    fake = FakeKube(conflicts=10)
    fake.add(service("orders", ORDERS))
    with pytest.raises(ActivityFailed, match="kept changing while it was patched"):
        detach_service("orders", "restaurant", api=fake.client())


def test_reattach_without_the_stored_selector_refuses_to_guess() -> None:
    fake = FakeKube()
    detached = service("orders", {DETACHED_LABEL: "orders"})
    fake.add(detached)
    with pytest.raises(ActivityFailed, match=r"original selector .* is gone; restore"):
        reattach_service("orders", "restaurant", api=fake.client())


def test_a_corrupt_annotation_is_reported_not_applied() -> None:
    fake = FakeKube()
    broken = service("orders", {DETACHED_LABEL: "orders"})
    broken["metadata"]["annotations"][ORIGINAL_SELECTOR_ANNOTATION] = "[1, 2]"
    fake.add(broken)
    with pytest.raises(ActivityFailed, match="not a label selector"):
        reattach_service("orders", "restaurant", api=fake.client())
    assert "PATCH" not in [m for m, _, _ in fake.requests]


def test_missing_service_and_selectorless_service() -> None:
    fake = FakeKube()
    with pytest.raises(ActivityFailed, match=r"cannot read Service 'orders' .*404"):
        detach_service("orders", "restaurant", api=fake.client())
    fake.add(service("manual", {}))
    with pytest.raises(ActivityFailed, match="has no selector"):
        detach_service("manual", "restaurant", api=fake.client())


def test_service_has_ready_pods_counts_ready_pods_that_are_not_terminating() -> None:
    fake = FakeKube()
    fake.add(service("orders", ORDERS))
    fake.add(pod("orders-1", ORDERS, terminating=True))
    fake.add(pod("orders-2", ORDERS, ready=False))
    fake.add(pod("other", {"app.kubernetes.io/name": "users"}))
    with pytest.raises(ActivityFailed, match=r"selects 0 ready pod\(s\) of 2"):
        service_has_ready_pods("orders", "restaurant", api=fake.client())
    fake.add(pod("orders-3", ORDERS))
    assert service_has_ready_pods("orders", "restaurant", api=fake.client()) is True
    with pytest.raises(ActivityFailed, match="expected at least 2"):
        service_has_ready_pods("orders", "restaurant", min_ready=2, api=fake.client())


# --- stress Jobs -----------------------------------------------------------------------------


def _starts_after(lists: int, phase: str = "Running", **status: Any) -> Any:
    def start(fake: FakeKube, job: str, count: int) -> None:
        if count == 1:
            fake.job_pod(job, phase="Pending")
        if count == lists:
            fake.job_pod(job, phase=phase, **status)

    return start


def test_start_stress_creates_the_job_pinned_to_the_node_and_waits_until_it_runs() -> None:
    fake = FakeKube(on_list_job_pods=_starts_after(3))
    clock, slept = FakeClock(step_per_reading=1.0), list[float]()
    result = start_stress(
        CPU_SPEC, "restaurant", node_name="node-7", api=fake.client(), clock=clock,
        sleep=slept.append,
    )  # fmt: skip
    assert result == {
        "job": "chaosgate-stress-cpu",
        "namespace": "restaurant",
        "pod": "chaosgate-stress-cpu-abcde",
        "node": "chaosgate-local",
        "pod_ip": "127.1.0.9",
    }
    assert len(slept) == 2  # polled until the third list saw it running
    [created] = [body for method, path, body in fake.requests if method == "POST"]
    spec = yaml.safe_load((REPO_ROOT / CPU_SPEC).read_text())
    pod_spec = created["spec"]["template"]["spec"]
    assert pod_spec["nodeSelector"] == {"kubernetes.io/hostname": "node-7"}
    assert (
        pod_spec["containers"][0]["args"]
        == spec["spec"]["template"]["spec"]["containers"][0]["args"]
    )
    assert created["spec"]["activeDeadlineSeconds"] == spec["spec"]["activeDeadlineSeconds"]
    assert created["metadata"]["namespace"] == "restaurant"


def test_start_stress_keeps_the_spec_node_without_a_node_name() -> None:
    fake = FakeKube(on_list_job_pods=_starts_after(1))
    start_stress(CPU_SPEC, "restaurant", node_name="", api=fake.client(), sleep=lambda _: None)
    [created] = [body for method, _, body in fake.requests if method == "POST"]
    assert created["spec"]["template"]["spec"]["nodeSelector"] == {
        "kubernetes.io/hostname": "chaosgate-local"
    }


def test_an_existing_job_is_not_replaced() -> None:
    fake = FakeKube()
    fake.jobs[("restaurant", "chaosgate-stress-cpu")] = {"metadata": {"name": "x"}}
    with pytest.raises(ActivityFailed, match=r"already exists .* kubectl -n restaurant delete job"):
        start_stress(CPU_SPEC, "restaurant", api=fake.client())
    assert ("restaurant", "chaosgate-stress-cpu") in fake.jobs  # left alone


def test_an_unschedulable_stress_pod_is_deleted_with_advice() -> None:
    def unschedulable(fake: FakeKube, job: str, count: int) -> None:
        fake.job_pod(
            job,
            phase="Pending",
            conditions=[
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "reason": "Unschedulable",
                    "message": "0/1 nodes are available: 1 node(s) didn't match node selector",
                }
            ],
        )

    fake = FakeKube(on_list_job_pods=unschedulable)
    with pytest.raises(ActivityFailed) as info:
        start_stress(
            CPU_SPEC, "restaurant", node_name="nope", timeout_s=3, api=fake.client(),
            clock=FakeClock(step_per_reading=1.0), sleep=lambda _: None,
        )  # fmt: skip
    message = str(info.value)
    assert "cannot be scheduled (Unschedulable: 0/1 nodes are available" in message
    assert "kubernetes.stress_node" in message and "deleted it again" in message
    assert fake.jobs == {} and fake.pods == {}


def test_a_stress_pod_that_ends_at_once_fails_the_action() -> None:
    terminated = {"terminated": {"exitCode": 1, "reason": "Error"}}
    statuses = [{"name": "stress-ng", "ready": False, "restartCount": 0, "image": "x",
                 "imageID": "", "state": terminated}]  # fmt: skip
    fake = FakeKube(on_list_job_pods=_starts_after(1, "Failed", containerStatuses=statuses))
    with pytest.raises(ActivityFailed, match=r"ended \(Failed: stress-ng exited 1 \(Error\)\)"):
        start_stress(CPU_SPEC, "restaurant", api=fake.client(), sleep=lambda _: None)
    assert fake.jobs == {}


def test_a_spec_that_is_not_one_job(tmp_path: Path) -> None:
    spec = tmp_path / "deploy.yaml"
    spec.write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n")
    with pytest.raises(ActivityFailed, match=r"holds \['Deployment'\], not one Job"):
        start_stress(str(spec), "restaurant", api=FakeKube().client())
    other_ns = tmp_path / "job.yaml"
    other_ns.write_text("apiVersion: batch/v1\nkind: Job\nmetadata: {name: x, namespace: prod}\n")
    with pytest.raises(ActivityFailed, match="namespace 'prod' is not the activity's ns"):
        start_stress(str(other_ns), "restaurant", api=FakeKube().client())
    with pytest.raises(ActivityFailed, match=r"spec file 'nowhere\.yaml' not found"):
        start_stress("nowhere.yaml", "restaurant", api=FakeKube().client())


def test_stop_stress_deletes_the_job_and_its_pods_and_can_run_twice() -> None:
    fake = FakeKube(on_list_job_pods=_starts_after(1))
    api = fake.client()
    start_stress(CPU_SPEC, "restaurant", api=api, sleep=lambda _: None)
    assert stop_stress("chaosgate-stress-cpu", "restaurant", api=api)["deleted"] is True
    _, path, body = fake.requests[-1]
    assert path == "/apis/batch/v1/namespaces/restaurant/jobs/chaosgate-stress-cpu"
    assert body["propagationPolicy"] == "Background"
    assert stop_stress("chaosgate-stress-cpu", "restaurant", api=api)["deleted"] is False
    gone = pods_gone("app.kubernetes.io/name=chaosgate-stress", "restaurant", api=api)
    assert gone["namespace"] == "restaurant"


def test_pods_gone_fails_naming_the_pods_left_after_the_timeout() -> None:
    fake = FakeKube()
    fake.add(pod("stress-1", {"app.kubernetes.io/name": "chaosgate-stress"}, terminating=True))
    slept: list[float] = []
    with pytest.raises(ActivityFailed) as info:
        pods_gone(
            "app.kubernetes.io/name=chaosgate-stress", "restaurant", timeout_s=5,
            api=fake.client(), clock=FakeClock(step_per_reading=1.0), sleep=slept.append,
        )  # fmt: skip
    assert "still there after 5 s: stress-1 (Running, terminating)" in str(info.value)
    assert slept  # it waited before giving up
    with pytest.raises(ActivityFailed, match="needs a label_selector"):
        pods_gone(" ", "restaurant", api=fake.client())
