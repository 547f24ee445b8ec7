"""manifests/ rendered by the real kubectl (kustomize): what a reviewer of the YAML checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosgate.target import Target, load_target
from chaosgate.target_env import parse_env_overrides
from refstack.launcher.parts import KEEP_ALIVE_S
from tests.unit.manifests.support import (
    CLUSTER_SCOPED_KINDS,
    MANIFESTS,
    RESTAURANT,
    Obj,
    container,
    find,
    injected_service_env,
    pod_spec,
    render,
    variable_references,
)

pytestmark = pytest.mark.tools  # needs a tool scripts/test installs or builds

RESTAURANT_RENDERS = ("base", "local", "cluster")
WORKLOAD_KINDS = ("Deployment", "Job", "CronJob")
# Locust's own settings variables, asked in a child process: importing locust monkey-patches
LOCUST_ENV_SETTINGS = (
    "import json; from locust.argument_parser import get_parser; "
    "print(json.dumps(sorted(a.env_var for a in get_parser()._actions "
    "if getattr(a, 'env_var', None))))"
)


def _workloads(objects: list[Obj]) -> list[Obj]:
    return [obj for obj in objects if obj["kind"] in WORKLOAD_KINDS]


def _deployment(objects: list[Obj], name: str) -> Obj:
    (found,) = find(objects, "Deployment", name)
    return found


def _service(objects: list[Obj], name: str) -> Obj:
    (found,) = find(objects, "Service", name)
    return found


def _env(workload: Obj) -> dict[str, Any]:
    """The container's env as name -> value (or the valueFrom mapping)."""
    return {
        item["name"]: item.get("value", item.get("valueFrom"))
        for item in container(workload).get("env", [])
    }


def _config_map_data(objects: list[Obj], name: str) -> dict[str, str]:
    (found,) = find(objects, "ConfigMap", name)
    data: dict[str, str] = found["data"]
    return data


def _generated(objects: list[Obj], name: str) -> dict[str, str]:
    """The data of the ConfigMap a generator made from ``name`` (kustomize adds a hash)."""
    (found,) = [
        cm for cm in find(objects, "ConfigMap") if cm["metadata"]["name"].rsplit("-", 1)[0] == name
    ]
    data: dict[str, str] = found["data"]
    return data


def _env_from_data(objects: list[Obj], workload: Obj) -> dict[str, str]:
    merged: dict[str, str] = {}
    for source in container(workload).get("envFrom", []):
        merged |= _config_map_data(objects, source["configMapRef"]["name"])
    return merged


# --- the restaurant: base and both overlays ---


@pytest.mark.parametrize("which", RESTAURANT_RENDERS)
def test_restaurant_runs_four_services_with_the_contracted_replicas(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    objects = rendered[which]
    replicas = {d["metadata"]["name"]: d["spec"]["replicas"] for d in find(objects, "Deployment")}
    assert replicas == {name: count for name, (_port, count) in RESTAURANT.items()}
    assert {s["metadata"]["name"] for s in find(objects, "Service")} == set(RESTAURANT)
    assert [ns["metadata"]["name"] for ns in find(objects, "Namespace")] == ["restaurant"]


@pytest.mark.parametrize("which", RESTAURANT_RENDERS)
def test_each_service_selects_its_pods_on_its_named_port(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    objects = rendered[which]
    for name, (port, _replicas) in RESTAURANT.items():
        service, deployment = _service(objects, name), _deployment(objects, name)
        selector = {"app.kubernetes.io/name": name}
        assert service["spec"]["selector"] == selector
        assert deployment["spec"]["selector"] == {"matchLabels": selector}
        template_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert template_labels == {**selector, "app.kubernetes.io/part-of": "restaurant"}
        assert service["spec"]["ports"] == [
            {"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}
            | ({"nodePort": 30080} if which == "local" and name == "gateway" else {})
        ]
        ports = container(deployment)["ports"]
        assert ports == [{"name": "http", "containerPort": port, "protocol": "TCP"}]


@pytest.mark.parametrize("which", RESTAURANT_RENDERS)
def test_every_pod_is_scraped_and_probed(rendered: dict[str, list[Obj]], which: str) -> None:
    for deployment in find(rendered[which], "Deployment"):
        name = deployment["metadata"]["name"]
        port, _replicas = RESTAURANT[name]
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }, name
        app = container(deployment)
        readiness = app["readinessProbe"]
        assert readiness["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert (readiness["periodSeconds"], readiness["failureThreshold"]) == (2, 2), name
        liveness = app["livenessProbe"]
        assert liveness["httpGet"] == {"path": "/healthz", "port": "http"}, name
        # lenient: a process is restarted only after at least half a minute without an answer
        patience = liveness["periodSeconds"] * liveness["failureThreshold"]
        assert patience >= 30, f"{name}: liveness gives up after {patience} s"
        assert liveness["timeoutSeconds"] >= readiness.get("timeoutSeconds", 1), name


@pytest.mark.parametrize("which", RESTAURANT_RENDERS)
def test_every_service_runs_gunicorn_on_its_pod_ip(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    for deployment in find(rendered[which], "Deployment"):
        name = deployment["metadata"]["name"]
        port, _replicas = RESTAURANT[name]
        app = container(deployment)
        command = app["command"]
        assert command[0] == "gunicorn"
        assert command[command.index("--bind") + 1] == f"$(POD_IP):{port}"
        assert command[-1] == f"restaurant.{name}.app:create_app()"
        flags = [("--workers", "1"), ("--worker-class", "gthread"), ("--threads", "16")]
        for flag, value in [*flags, ("--keep-alive", str(KEEP_ALIVE_S))]:
            assert command[command.index(flag) + 1] == value, f"{name}: {flag}"
        assert "--no-control-socket" in command
        graceful = int(command[command.index("--graceful-timeout") + 1])
        grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
        assert (graceful, grace) == (5, 10), name
        env = _env(deployment)
        assert env["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        assert (env["SERVICE_NAME"], env["OTEL_SERVICE_NAME"]) == (name, name)
        assert env["LOG_FILE"] == "/dev/stdout"
        assert "args" not in app


@pytest.mark.parametrize("which", RESTAURANT_RENDERS)
def test_gateway_reaches_its_upstreams_through_injected_service_variables(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    env = _env(_deployment(rendered[which], "gateway"))
    for upstream in ("orders", "users", "iot"):
        prefix = upstream.upper()
        assert env[f"{prefix}_URL"] == f"http://$({prefix}_SERVICE_HOST):$({prefix}_SERVICE_PORT)"


@pytest.mark.parametrize("which", [*RESTAURANT_RENDERS, "suite"])
def test_every_variable_reference_resolves_as_kubelet_expands_it(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    """``$(X)`` in env values: envFrom, earlier env or Service variables; in commands: any."""
    objects = rendered[which]
    for workload in _workloads(objects):
        namespace = workload["metadata"]["namespace"]
        services = [s for s in find(objects, "Service") if s["metadata"]["namespace"] == namespace]
        links = pod_spec(workload).get("enableServiceLinks", True)
        known = injected_service_env(services if links else [])
        known |= set(_env_from_data(objects, workload))
        app = container(workload)
        name = workload["metadata"]["name"]
        for item in app.get("env", []):
            for ref in variable_references(item.get("value", "")):
                assert ref in known, f"{name}: env {item['name']} uses $({ref}), undefined there"
            known.add(item["name"])
        for word in [*app.get("command", []), *app.get("args", [])]:
            for ref in variable_references(word):
                assert ref in known, f"{name}: command word {word!r} uses undefined $({ref})"


@pytest.mark.parametrize("which", RESTAURANT_RENDERS)
def test_configuration_comes_from_generated_config_maps(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    objects = rendered[which]
    for deployment in find(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        from_maps = _env_from_data(objects, deployment)
        assert set(from_maps) == {"OTEL_EXPORTER_OTLP_ENDPOINT"}, name
        assert from_maps["OTEL_EXPORTER_OTLP_ENDPOINT"].startswith("http"), name
        env = _env(deployment)
        if name not in ("orders", "users"):
            assert "DATABASE_URL" not in env, name
            continue
        ref = env["DATABASE_URL"]["configMapKeyRef"]
        url = _config_map_data(objects, ref["name"])[ref["key"]]
        assert url.startswith("sqlite:///") and url.endswith(f"/{name}.db"), url
    names = sorted(cm["metadata"]["name"].rsplit("-", 1)[0] for cm in find(objects, "ConfigMap"))
    assert names == ["restaurant-observability", "restaurant-storage"]


@pytest.mark.parametrize("which", RESTAURANT_RENDERS)
def test_deployments_roll_safely_within_bounds(rendered: dict[str, list[Obj]], which: str) -> None:
    for deployment in find(rendered[which], "Deployment"):
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]
        assert spec["strategy"]["type"] == "RollingUpdate", name
        assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, name
        assert 0 < spec["progressDeadlineSeconds"] <= 600, name
        resources = container(deployment)["resources"]
        for kind in ("requests", "limits"):
            assert set(resources[kind]) == {"cpu", "memory"}, f"{name}: {kind}"
        assert pod_spec(deployment)["automountServiceAccountToken"] is False, name


@pytest.mark.parametrize("which", RESTAURANT_RENDERS)
def test_two_replica_services_keep_one_pod_through_disruptions(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    budgets = {
        b["metadata"]["name"]: b["spec"] for b in find(rendered[which], "PodDisruptionBudget")
    }
    assert budgets == {
        name: {"minAvailable": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": name}}}
        for name in ("gateway", "orders")
    }


@pytest.mark.parametrize("which", ["base", "cluster"])
def test_cluster_pods_run_as_non_root_on_a_read_only_root(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    for deployment in find(rendered[which], "Deployment"):
        name = deployment["metadata"]["name"]
        assert pod_spec(deployment)["securityContext"]["runAsNonRoot"] is True, name
        context = container(deployment)["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"] == {"drop": ["ALL"]}, name
        mounts = {m["mountPath"] for m in container(deployment)["volumeMounts"]}
        assert "/tmp" in mounts, name


def test_local_overlay_runs_process_pods_from_the_local_image(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["local"]
    for deployment in find(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        spec, app = pod_spec(deployment), container(deployment)
        assert app["image"] == "chaosgate/restaurant:local", name
        for key in ("volumes", "securityContext"):
            assert key not in spec, f"{name}: a process pod cannot honour {key}"
        for key in ("volumeMounts", "securityContext"):
            assert key not in app, f"{name}: a process pod cannot honour {key}"
        assert _env(deployment)["CHAOSGATE_ADMIN_FAULTS"] == "1", name
        endpoint = _env_from_data(objects, deployment)["OTEL_EXPORTER_OTLP_ENDPOINT"]
        assert endpoint == "http://127.0.0.1:4318", name
    assert _generated(objects, "restaurant-storage") == {
        "ORDERS_DATABASE_URL": "sqlite:///orders.db",
        "USERS_DATABASE_URL": "sqlite:///users.db",
    }


def test_local_overlay_serves_the_gateway_on_node_port_30080(
    rendered: dict[str, list[Obj]],
) -> None:
    types = {s["metadata"]["name"]: s["spec"]["type"] for s in find(rendered["local"], "Service")}
    assert types == {
        "gateway": "NodePort",
        "orders": "ClusterIP",
        "users": "ClusterIP",
        "iot": "ClusterIP",
    }
    (port,) = _service(rendered["local"], "gateway")["spec"]["ports"]
    assert port["nodePort"] == 30080


def test_cluster_overlay_pulls_registry_images_and_keeps_databases_on_data(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["cluster"]
    for deployment in find(objects, "Deployment"):
        name = deployment["metadata"]["name"]
        image = container(deployment)["image"]
        assert image == "ghcr.io/chaosgate/restaurant:0.1.0", name
        assert "CHAOSGATE_ADMIN_FAULTS" not in _env(deployment), name
        volumes = {v["name"]: v for v in pod_spec(deployment)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in container(deployment)["volumeMounts"]}
        if name in ("orders", "users"):
            assert "emptyDir" in volumes[mounts["/data"]], name
        else:
            assert "/data" not in mounts, name
    assert all(s["spec"]["type"] == "ClusterIP" for s in find(objects, "Service"))


def test_no_cluster_image_carries_the_local_tag(rendered: dict[str, list[Obj]]) -> None:
    for which in ("base", "cluster"):
        for workload in _workloads(rendered[which]):
            assert not container(workload)["image"].endswith(":local"), workload["metadata"]


def test_the_launcher_can_merge_its_ports_and_paths_into_the_local_overlay(
    kubectl: Path, tmp_path: Path
) -> None:
    """What ``chaosgate stack up --k8s`` does: wrap overlays/local and set its own values."""
    wrapper = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(MANIFESTS / "overlays" / "local", tmp_path)],
        "configMapGenerator": [
            {
                "name": "restaurant-observability",
                "namespace": "restaurant",
                "behavior": "merge",
                "literals": ["OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:14318"],
            },
            {
                "name": "restaurant-storage",
                "namespace": "restaurant",
                "behavior": "merge",
                "literals": ["ORDERS_DATABASE_URL=sqlite:////srv/stack/orders.db"],
            },
        ],
        "patches": [
            {
                "target": {"kind": "Service", "name": "gateway", "namespace": "restaurant"},
                "patch": yaml.safe_dump(
                    [{"op": "replace", "path": "/spec/ports/0/nodePort", "value": 31080}]
                ),
            }
        ],
    }
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(wrapper))
    objects = render(kubectl, tmp_path)
    assert len(find(objects, "ConfigMap")) == 2
    (port,) = _service(objects, "gateway")["spec"]["ports"]
    assert (port["name"], port["nodePort"]) == ("http", 31080)
    orders = _deployment(objects, "orders")
    endpoint = _env_from_data(objects, orders)["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert endpoint == "http://127.0.0.1:14318"
    ref = _env(orders)["DATABASE_URL"]["configMapKeyRef"]
    data = _config_map_data(objects, ref["name"])
    assert data == {
        "ORDERS_DATABASE_URL": "sqlite:////srv/stack/orders.db",
        "USERS_DATABASE_URL": "sqlite:///users.db",
    }


# --- every kustomization ---


@pytest.mark.parametrize("which", [*RESTAURANT_RENDERS, "suite"])
def test_every_object_has_a_namespace_exactly_where_it_needs_one(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    namespaces = {"restaurant", "chaosgate"}
    for obj in rendered[which]:
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in CLUSTER_SCOPED_KINDS:
            assert "namespace" not in obj["metadata"], where
        else:
            assert obj["metadata"].get("namespace") in namespaces, where


@pytest.mark.parametrize("which", [*RESTAURANT_RENDERS, "suite"])
def test_services_come_before_the_pods_that_read_their_variables(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    """kubelet injects a Service's variables only into pods created after the Service."""
    kinds = [obj["kind"] for obj in rendered[which]]
    last_service = max(i for i, kind in enumerate(kinds) if kind == "Service")
    first_workload = min(i for i, kind in enumerate(kinds) if kind in WORKLOAD_KINDS)
    assert last_service < first_workload, kinds


@pytest.mark.parametrize("which", [*RESTAURANT_RENDERS, "suite"])
def test_every_object_is_labelled_with_what_it_is_part_of(
    rendered: dict[str, list[Obj]], which: str
) -> None:
    part_of = "chaosgate" if which == "suite" else "restaurant"
    for obj in rendered[which]:
        labels = obj["metadata"].get("labels", {})
        assert labels.get("app.kubernetes.io/part-of") == part_of, obj["metadata"]["name"]


# --- the suite ---


def _rules(objects: list[Obj], kind: str, name: str) -> list[Obj]:
    (role,) = find(objects, kind, name)
    rules: list[Obj] = role["rules"]
    return rules


def test_rbac_has_no_wildcards(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["suite"]
    roles = [*find(objects, "Role"), *find(objects, "ClusterRole")]
    assert len(roles) == 1
    for role in roles:
        for rule in role["rules"]:
            for key in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs"):
                assert "*" not in rule.get(key, []), f"{role['metadata']['name']}: {rule}"


def test_runner_role_is_namespaced_in_restaurant_with_least_privileges(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["suite"]
    (role,) = find(objects, "Role")
    assert role["metadata"]["namespace"] == "restaurant"
    granted = {
        (group, resource): sorted(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert granted == {
        ("", "pods"): sorted(["list", "delete"]),
        ("apps", "deployments"): sorted(["list", "watch"]),
        ("", "services"): sorted(["get", "patch"]),
        ("batch", "jobs"): sorted(["create", "delete"]),
    }
    (binding,) = find(objects, "RoleBinding")
    assert binding["metadata"]["namespace"] == "restaurant"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    runner = {"kind": "ServiceAccount", "name": "chaosgate-runner", "namespace": "chaosgate"}
    assert binding["subjects"] == [runner]
    (account,) = find(objects, "ServiceAccount")
    name_and_namespace = (account["metadata"]["name"], account["metadata"]["namespace"])
    assert name_and_namespace == ("chaosgate-runner", "chaosgate")


def test_runner_has_nothing_cluster_wide(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["suite"]
    assert not find(objects, "ClusterRole") and not find(objects, "ClusterRoleBinding")


def _runner_command(workload: Obj) -> list[str]:
    command: list[str] = container(workload)["command"]
    return command


def test_runner_runs_the_gate_as_a_job_and_nightly_without_overlap(
    rendered: dict[str, list[Obj]],
) -> None:
    objects = rendered["suite"]
    (job,) = find(objects, "Job")
    (cron,) = find(objects, "CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    for workload, profile in ((job, "gate"), (cron, "nightly")):
        name = workload["metadata"]["name"]
        assert _runner_command(workload) == [
            "chaosgate", "run", "--target", "/etc/chaosgate/target.yaml",
            "--profile", profile, "--reports", "/reports",
            "--expect-workers", "2", "--master-bind", "$(POD_IP):5557",
        ]  # fmt: skip
        spec = pod_spec(workload)
        assert spec["serviceAccountName"] == "chaosgate-runner", name
        assert spec["restartPolicy"] == "Never", name
        job_spec = workload["spec"] if workload is job else cron["spec"]["jobTemplate"]["spec"]
        assert job_spec["backoffLimit"] == 0, f"{name}: a failed verdict must not be retried"
        assert job_spec["activeDeadlineSeconds"] > 0, name
        volumes = {v["name"]: v for v in spec["volumes"]}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container(workload)["volumeMounts"]}
        target_map = mounts["/etc/chaosgate"]["configMap"]["name"]
        assert "target.yaml" in _config_map_data(objects, target_map)
        reports = mounts["/reports"]
        assert "emptyDir" in reports or "persistentVolumeClaim" in reports, name


def test_runner_target_file_is_a_valid_target(
    rendered: dict[str, list[Obj]], tmp_path: Path
) -> None:
    objects = rendered["suite"]
    (job,) = find(objects, "Job")
    (volume,) = [v for v in pod_spec(job)["volumes"] if "configMap" in v]
    path = tmp_path / "target.yaml"
    path.write_text(_config_map_data(objects, volume["configMap"]["name"])["target.yaml"])
    # the runner's own environment, as kubelet expands it for a sink Service at 10.0.0.7
    # (the runner reads at its query port)
    sink_url = _env(job)["CHAOSGATE_SINK__URL"]
    env = {
        "CHAOSGATE_SINK__URL": sink_url.replace(
            "$(NOTIFICATION_SINK_SERVICE_HOST)", "10.0.0.7"
        ).replace("$(NOTIFICATION_SINK_SERVICE_PORT_QUERY)", "9096")
    }
    target = load_target(path, env=env)
    assert target.sink.url == "http://10.0.0.7:9096"
    assert target.kubernetes.namespaces == ("restaurant",)
    assert target.kubernetes.kubeconfig is None  # in-cluster: the ServiceAccount's token


def test_suite_service_variables_never_look_like_settings(
    rendered: dict[str, list[Obj]],
) -> None:
    """kubelet injects them into every suite pod: the runner and Locust must not misread them."""
    injected = injected_service_env(find(rendered["suite"], "Service"))
    _overrides, problems = parse_env_overrides(Target, dict.fromkeys(injected, "x"))
    assert problems == []
    proc = subprocess.run(
        [sys.executable, "-c", LOCUST_ENV_SETTINGS],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    locust_settings = set(json.loads(proc.stdout))
    assert "LOCUST_HOST" in locust_settings
    assert injected.isdisjoint(locust_settings), injected & locust_settings


def test_the_runner_is_the_master_of_the_locust_worker_pods(
    rendered: dict[str, list[Obj]],
) -> None:
    """Service locust-master selects the runner's pods (gate Job and nightly CronJob), each a
    Locust master expecting as many workers as the worker Deployment runs; the workers are
    standing `chaosgate worker --serve` processes that find it through the Service's variables."""
    objects = rendered["suite"]
    service = _service(objects, "locust-master")
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == {"master": 5557}
    assert find(objects, "Deployment", "locust-master") == [], "the runner is the master now"
    workers = _deployment(objects, "locust-worker")
    replicas = workers["spec"]["replicas"]
    assert replicas >= 1
    assert container(workers)["command"] == [
        "chaosgate", "worker", "--serve", "--master",
        "$(LOCUST_MASTER_SERVICE_HOST):$(LOCUST_MASTER_SERVICE_PORT_MASTER)",
    ]  # fmt: skip
    assert pod_spec(workers)["enableServiceLinks"] is True
    for runner in (*find(objects, "Job", "chaosgate-gate"), *find(objects, "CronJob")):
        labels = (
            runner["spec"]["template"]["metadata"]["labels"]
            if runner["kind"] == "Job"
            else runner["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        )
        assert service["spec"]["selector"].items() <= labels.items(), runner["metadata"]["name"]
        command = container(runner)["command"]
        assert command[command.index("--expect-workers") + 1] == str(replicas)
        assert command[command.index("--master-bind") + 1] == "$(POD_IP):5557"
        ports = {p["name"]: p["containerPort"] for p in container(runner)["ports"]}
        assert ports == {"master": 5557}
        assert _env(runner)["POD_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    settings = _env_from_data(objects, workers)
    assert settings["LOCUST_HOST"].startswith("http")


def test_suite_uses_the_suite_image_tagged_local(rendered: dict[str, list[Obj]]) -> None:
    images = {container(w)["image"] for w in _workloads(rendered["suite"])}
    assert images == {"chaosgate/suite:local"}


def test_every_manifest_file_says_what_it_is() -> None:
    files = [p for p in MANIFESTS.rglob("*.yaml") if "chaos" not in p.relative_to(MANIFESTS).parts]
    assert len(files) >= 15
    for path in files:
        assert path.read_text().startswith("# "), f"{path} has no comment at its top"
