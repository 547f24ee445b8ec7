"""What a container's volumes hold, resolved from the pod and the API's objects (pure)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from refstack.node.mountns import Mount, VolumeFile
from refstack.node.volumes import (
    TokenProjection,
    VolumeError,
    VolumeInputs,
    container_mounts,
    make_empty_dirs,
    unsupported_volumes,
    volume_references,
)
from tests.unit.node.service_account import KUBE_API_ACCESS, SA_MOUNT


def _pod(volumes: list[dict[str, Any]], mounts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "gate-abc",
            "namespace": "chaosgate",
            "uid": "uid-1",
            "labels": {"app": "runner", "tier": "ci"},
        },
        "spec": {
            "serviceAccountName": "chaosgate-runner",
            "containers": [{"name": "runner", "image": "chaosgate/suite", "volumeMounts": mounts}],
            "volumes": volumes,
        },
    }


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


INPUTS = VolumeInputs(
    config_maps={
        "chaosgate-target": {"data": {"target.yaml": "name: cluster\n"}},
        "kube-root-ca.crt": {"data": {"ca.crt": "-----BEGIN CERTIFICATE-----\n"}},
        "two-keys": {"data": {"a": "1"}, "binaryData": {"b.bin": _b64("\x00\x01")}},
    },
    secrets={"notification-sink-token": {"data": {"token": _b64("s3cret"), "other": _b64("x")}}},
    tokens={TokenProjection("", 3607): "eyJ.token"},
)


def test_the_runners_volumes_hold_the_target_file_the_token_and_an_empty_dir(
    tmp_path: Path,
) -> None:
    pod = _pod(
        [
            {"name": "target", "configMap": {"name": "chaosgate-target"}},
            {"name": "reports", "emptyDir": {"sizeLimit": "2Gi"}},
            KUBE_API_ACCESS,
        ],
        [
            {"name": "target", "mountPath": "/etc/chaosgate", "readOnly": True},
            {"name": "reports", "mountPath": "/reports"},
            SA_MOUNT,
        ],
    )
    assert unsupported_volumes(pod) == []
    refs = volume_references(pod, _container(pod))
    assert refs.config_maps == {"chaosgate-target", "kube-root-ca.crt"}
    assert refs.secrets == frozenset()
    assert refs.tokens == {TokenProjection(audience="", expiration_s=3607)}

    mounts = container_mounts(pod, _container(pod), INPUTS, tmp_path / "volumes")
    assert mounts == (
        Mount(
            "target",
            "/etc/chaosgate",
            True,
            files=(VolumeFile("target.yaml", b"name: cluster\n", 0o644),),
        ),
        Mount("reports", "/reports", False, source=str(tmp_path / "volumes" / "reports")),
        Mount(
            "kube-api-access-x7k2p",
            "/var/run/secrets/kubernetes.io/serviceaccount",
            True,
            files=(
                VolumeFile("token", b"eyJ.token", 0o644),
                VolumeFile("ca.crt", b"-----BEGIN CERTIFICATE-----\n", 0o644),
                VolumeFile("namespace", b"chaosgate", 0o644),
            ),
        ),
    )
    (reports := tmp_path / "volumes" / "reports").mkdir(parents=True)
    (reports / "kept").write_text("from an earlier container")
    sub = Mount("reports", "/srv", False, "run-1/out", source=str(reports))
    make_empty_dirs([*mounts, sub])
    assert reports.stat().st_mode & 0o777 == 0o777
    assert (reports / "run-1" / "out").is_dir()
    assert (reports / "kept").read_text() == "from an earlier container"


def test_the_sinks_secret_items_and_default_mode_and_a_config_maps_binary_data(
    tmp_path: Path,
) -> None:
    pod = _pod(
        [
            {
                "name": "token",
                "secret": {
                    "secretName": "notification-sink-token",
                    "items": [{"key": "token", "path": "token"}],
                    "defaultMode": 256,
                },
            },
            {"name": "keys", "configMap": {"name": "two-keys", "defaultMode": 0o600}},
        ],
        [
            # readOnly false is overridden: the kubelet mounts these sources read-only
            {"name": "token", "mountPath": "/etc/notification-sink", "readOnly": False},
            {"name": "keys", "mountPath": "/etc/keys/b.bin", "subPath": "b.bin"},
        ],
    )
    assert volume_references(pod, _container(pod)).secrets == {"notification-sink-token"}
    mounts = container_mounts(pod, _container(pod), INPUTS, tmp_path)
    assert mounts[0] == Mount(
        "token", "/etc/notification-sink", True, files=(VolumeFile("token", b"s3cret", 0o400),)
    )
    assert mounts[1].sub_path == "b.bin"
    assert mounts[1].files == (
        VolumeFile("a", b"1", 0o600),
        VolumeFile("b.bin", b"\x00\x01", 0o600),
    )


def test_a_missing_object_or_key_says_which_unless_optional(tmp_path: Path) -> None:
    def mounts(source: dict[str, Any]) -> tuple[Mount, ...]:
        pod = _pod([{"name": "v", **source}], [{"name": "v", "mountPath": "/v"}])
        return container_mounts(pod, _container(pod), INPUTS, tmp_path)

    with pytest.raises(VolumeError, match=r'configmap "absent" in namespace .chaosgate. not found'):
        mounts({"configMap": {"name": "absent"}})
    assert mounts({"configMap": {"name": "absent", "optional": True}})[0].files == ()
    items = [{"key": "nope", "path": "n"}, {"key": "token", "path": "t", "mode": 0o440}]
    with pytest.raises(VolumeError, match=r"has no key 'nope' \(volume 'v', items\)"):
        mounts({"secret": {"secretName": "notification-sink-token", "items": items}})
    kept = mounts(
        {"secret": {"secretName": "notification-sink-token", "items": items, "optional": True}}
    )
    assert kept[0].files == (VolumeFile("t", b"s3cret", 0o440),)
    with pytest.raises(VolumeError, match="must be relative"):
        mounts(
            {
                "configMap": {
                    "name": "chaosgate-target",
                    "items": [{"key": "target.yaml", "path": "../x"}],
                }
            }
        )


def test_downward_api_files_format_labels_as_the_kubelet_does(tmp_path: Path) -> None:
    items = [
        {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "app", "fieldRef": {"fieldPath": "metadata.labels['app']"}, "mode": 0o600},
        {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
    ]
    pod = _pod(
        [{"name": "info", "downwardAPI": {"items": items}}],
        [{"name": "info", "mountPath": "/info"}],
    )
    (mount,) = container_mounts(pod, _container(pod), INPUTS, tmp_path)
    assert mount.files == (
        VolumeFile("labels", b'app="runner"\ntier="ci"', 0o644),
        VolumeFile("app", b"runner", 0o600),
        VolumeFile("name", b"gate-abc", 0o644),
    )


def test_volume_sources_the_node_does_not_run_are_named_not_skipped() -> None:
    pod = _pod(
        [
            {"name": "data", "persistentVolumeClaim": {"claimName": "reports"}},
            {"name": "host", "hostPath": {"path": "/var/log"}},
            {"name": "bundle", "projected": {"sources": [{"clusterTrustBundle": {"name": "x"}}]}},
            {"name": "ok", "emptyDir": {}},
        ],
        [
            {"name": "ok", "mountPath": "/a", "subPathExpr": "$(POD_NAME)"},
            {"name": "gone", "mountPath": "/b"},
        ],
    )
    problems = unsupported_volumes(pod)
    assert problems[0].startswith("volume 'data' (persistentVolumeClaim) is not run by this node")
    assert "it runs configMap, secret, downwardAPI, emptyDir and projected" in problems[0]
    assert problems[1].startswith("volume 'host' (hostPath) is not run by this node")
    assert problems[2].startswith("volume 'bundle': projected source 'clusterTrustBundle'")
    assert (
        problems[3]
        == "container 'runner', mount '/a': subPathExpr is not run by this node; use subPath"
    )
    assert problems[4] == "container 'runner', mount '/b': no volume named 'gone' in the pod"
    assert len(problems) == 5
