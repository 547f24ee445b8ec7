"""A container's environment and command line: the kubelet's rules, no I/O."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from refstack.node.podenv import (
    ContainerEnvError,
    PodFacts,
    container_argv,
    env_references,
    expand,
    kube_env,
    process_env,
)
from refstack.node_config import ImageSpec

FACTS = PodFacts(pod_ip="127.2.0.7", host_ip="127.0.0.1", allocatable={"cpu": "2", "memory": "4Gi"})


def _pod(container: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "orders-abc",
            "namespace": "restaurant",
            "uid": "u-1",
            "labels": {"app.kubernetes.io/name": "orders"},
            "annotations": {"prometheus.io/port": "8081"},
        },
        "spec": {
            "nodeName": "chaosgate-local",
            "serviceAccountName": "default",
            "containers": [container],
            **spec,
        },
    }


def _env(container: dict[str, Any], **kwargs: Any) -> dict[str, str]:
    args: dict[str, Any] = {"facts": FACTS, "service_env": {}, "config_maps": {}, "secrets": {}}
    args.update(kwargs)
    return kube_env(_pod(container), container, **args)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)-$(B)", "1-two"),
        ("$$(A)", "$(A)"),  # escaped: not a reference
        ("$$$(A)", "$1"),
        ("$(MISSING)", "$(MISSING)"),
        ("$(A", "$(A"),  # not closed
        ("cost $5 and $", "cost $5 and $"),
        ("$()", "$()"),
        ("", ""),
        ("no refs", "no refs"),
    ],
)
def test_expand_follows_the_kubelet_syntax(text: str, expected: str) -> None:
    assert expand(text, {"A": "1", "B": "two"}) == expected


def test_expand_looks_in_scopes_in_order() -> None:
    assert expand("$(X)$(Y)", {"X": "first"}, {"X": "second", "Y": "y"}) == "firsty"


def test_env_values_refer_to_earlier_variables_and_services_only() -> None:
    container = {
        "name": "app",
        "env": [
            {"name": "LATER_REF", "value": "$(BASE)/x"},  # BASE defined below: kept as is
            {"name": "BASE", "value": "/srv"},
            {"name": "DATA", "value": "$(BASE)/data on $(USERS_SERVICE_HOST)"},
        ],
    }
    env = _env(container, service_env={"USERS_SERVICE_HOST": "127.96.0.5"})
    assert env["LATER_REF"] == "$(BASE)/x"
    assert env["DATA"] == "/srv/data on 127.96.0.5"
    assert env["USERS_SERVICE_HOST"] == "127.96.0.5"


def test_the_container_env_wins_over_a_service_variable() -> None:
    env = _env(
        {"name": "app", "env": [{"name": "USERS_SERVICE_HOST", "value": "mine"}]},
        service_env={"USERS_SERVICE_HOST": "127.96.0.5"},
    )
    assert env["USERS_SERVICE_HOST"] == "mine"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("metadata.name", "orders-abc"),
        ("metadata.namespace", "restaurant"),
        ("metadata.uid", "u-1"),
        ("metadata.labels['app.kubernetes.io/name']", "orders"),
        ("metadata.annotations['prometheus.io/port']", "8081"),
        ("metadata.labels['absent']", ""),
        ("spec.nodeName", "chaosgate-local"),
        ("spec.serviceAccountName", "default"),
        ("status.podIP", "127.2.0.7"),
        ("status.podIPs", "127.2.0.7"),
        ("status.hostIP", "127.0.0.1"),
    ],
)
def test_field_refs(path: str, expected: str) -> None:
    container = {
        "name": "app",
        "env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": path}}}],
    }
    assert _env(container)["V"] == expected


def test_an_unsupported_field_ref_is_named() -> None:
    container = {
        "name": "a",
        "env": [{"name": "V", "valueFrom": {"fieldRef": {"fieldPath": "spec.x"}}}],
    }
    with pytest.raises(ContainerEnvError, match=r"fieldRef 'spec\.x' is not supported"):
        _env(container)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


CONFIG = {
    "settings": {"data": {"MODE": "fast", "bad=key": "x"}, "binaryData": {"BLOB": _b64("bin")}}
}
SECRETS = {"creds": {"data": {"PASSWORD": _b64("s3cret")}}}


def test_env_from_config_maps_and_secrets_with_prefix() -> None:
    container = {
        "name": "app",
        "envFrom": [
            {"configMapRef": {"name": "settings"}},
            {"secretRef": {"name": "creds"}, "prefix": "DB_"},
            {"configMapRef": {"name": "absent", "optional": True}},
        ],
    }
    env = _env(container, config_maps=CONFIG, secrets=SECRETS)
    assert env["MODE"] == "fast"
    assert env["BLOB"] == "bin"
    assert env["DB_PASSWORD"] == "s3cret"
    assert "bad=key" not in env


def test_key_refs_and_their_optional_forms() -> None:
    container = {
        "name": "app",
        "env": [
            {"name": "M", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "MODE"}}},
            {"name": "P", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "PASSWORD"}}},
            {
                "name": "O1",
                "valueFrom": {
                    "configMapKeyRef": {"name": "settings", "key": "nope", "optional": True}
                },
            },
            {
                "name": "O2",
                "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": True}},
            },
        ],
    }
    env = _env(container, config_maps=CONFIG, secrets=SECRETS)
    assert (env["M"], env["P"]) == ("fast", "s3cret")
    assert "O1" not in env and "O2" not in env


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ({"configMapKeyRef": {"name": "absent", "key": "k"}}, 'configmap "absent" not found'),
        ({"secretKeyRef": {"name": "absent", "key": "k"}}, 'secret "absent" not found'),
        (
            {"configMapKeyRef": {"name": "settings", "key": "k"}},
            "couldn't find key 'k' in ConfigMap restaurant/settings",
        ),
        ({"fileKeyRef": {"path": "x"}}, "valueFrom ['fileKeyRef'] is not supported"),
    ],
)
def test_missing_sources_say_what_is_missing(ref: dict[str, Any], fragment: str) -> None:
    container = {"name": "app", "env": [{"name": "V", "valueFrom": ref}]}
    with pytest.raises(ContainerEnvError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        _env(container, config_maps=CONFIG, secrets=SECRETS)


def test_a_missing_env_from_source_is_an_error_unless_optional() -> None:
    with pytest.raises(ContainerEnvError, match='configmap "absent" not found'):
        _env({"name": "app", "envFrom": [{"configMapRef": {"name": "absent"}}]})


def test_env_references_names_every_source() -> None:
    container = {
        "envFrom": [{"configMapRef": {"name": "a"}}, {"secretRef": {"name": "s1"}}],
        "env": [
            {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "b", "key": "k"}}},
            {"name": "Y", "valueFrom": {"secretKeyRef": {"name": "s2", "key": "k"}}},
            {"name": "Z", "value": "plain"},
        ],
    }
    refs = env_references(container)
    assert refs.config_maps == {"a", "b"}
    assert refs.secrets == {"s1", "s2"}


@pytest.mark.parametrize(
    ("resources", "ref", "expected"),
    [
        ({"limits": {"cpu": "500m"}}, {"resource": "limits.cpu"}, "1"),
        ({"limits": {"cpu": "500m"}}, {"resource": "limits.cpu", "divisor": "1m"}, "500"),
        ({}, {"resource": "limits.cpu"}, "2"),  # no limit: the node's allocatable
        ({}, {"resource": "limits.memory", "divisor": "1Mi"}, "4096"),
        ({"requests": {"memory": "128Mi"}}, {"resource": "requests.memory"}, "134217728"),
        ({"limits": {"memory": "1Gi"}}, {"resource": "requests.memory", "divisor": "1Mi"}, "1024"),
        ({}, {"resource": "requests.cpu"}, "0"),
    ],
)
def test_resource_field_refs(resources: dict[str, Any], ref: dict[str, Any], expected: str) -> None:
    container = {
        "name": "app",
        "resources": resources,
        "env": [{"name": "R", "valueFrom": {"resourceFieldRef": ref}}],
    }
    assert _env(container)["R"] == expected


def test_process_env_layers_image_then_kubelet_variables() -> None:
    image = ImageSpec(path=("/venv/bin",), env={"PYTHONPATH": "/srv", "MODE": "image"})
    env = process_env(
        {"MODE": "pod", "KUBERNETES_SERVICE_HOST": "127.0.0.1"},
        image=image,
        hostname="orders-abc",
        agent_env={"PATH": "/usr/bin:/bin", "HOME": "/root", "SECRET_OF_AGENT": "x"},
    )
    assert env == {
        "HOME": "/root",
        "HOSTNAME": "orders-abc",
        "PATH": "/venv/bin:/usr/bin:/bin",
        "PYTHONPATH": "/srv",
        "MODE": "pod",
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
    }


def test_container_path_overrides_the_computed_one() -> None:
    env = process_env({"PATH": "/only"}, image=ImageSpec(path=("/a",)), hostname="h", agent_env={})
    assert env["PATH"] == "/only"


def test_argv_expands_command_and_args() -> None:
    container = {
        "name": "web",
        "command": ["python3", "-m", "http.server"],
        "args": ["--bind", "$(POD_IP)", "$$(POD_IP)", "8000"],
    }
    argv = container_argv(container, ImageSpec(), {"POD_IP": "127.2.0.7"})
    assert argv == ["python3", "-m", "http.server", "--bind", "127.2.0.7", "$(POD_IP)", "8000"]


def test_argv_falls_back_to_the_image_entrypoint() -> None:
    image = ImageSpec(entrypoint=("stress-ng",))
    argv = container_argv({"name": "s", "args": ["--cpu", "$(N)"]}, image, {"N": "2"})
    assert argv == ["stress-ng", "--cpu", "2"]


def test_argv_ignores_the_entrypoint_when_a_command_is_given() -> None:
    image = ImageSpec(entrypoint=("stress-ng",))
    assert container_argv({"name": "s", "command": ["true"]}, image, {}) == ["true"]


def test_nothing_to_run_is_an_error_naming_the_container_and_image() -> None:
    with pytest.raises(ContainerEnvError, match="container 'x' has no command and its image 'img'"):
        container_argv({"name": "x", "image": "img"}, ImageSpec(), {})
