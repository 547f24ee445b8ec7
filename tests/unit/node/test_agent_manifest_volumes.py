"""The volumes of the repository's own pod templates (manifests/suite, manifests/base,
manifests/chaos) are ones the local node runs, and the runner Job's land where its command
reads them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from refstack.node.mountns import Sandbox, spawn_with_volumes
from refstack.node.volumes import (
    TokenProjection,
    VolumeInputs,
    container_mounts,
    unsupported_volumes,
    volume_references,
)
from tests.unit.node.service_account import KUBE_API_ACCESS, SA_DIR, SA_MOUNT

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"


def _admitted(template: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The pod the API server stores for ``template`` (its ServiceAccount admission done)."""
    spec = dict(template["spec"])
    if spec.get("automountServiceAccountToken") is not False:
        spec["volumes"] = [*(spec.get("volumes") or []), KUBE_API_ACCESS]
        spec["containers"] = [
            {**c, "volumeMounts": [*(c.get("volumeMounts") or []), SA_MOUNT]}
            for c in spec["containers"]
        ]
    meta = {"name": "pod-1", "namespace": namespace, "uid": "uid-1"}
    return {"metadata": meta, "spec": spec}


def _pod_templates() -> Iterator[tuple[str, dict[str, Any]]]:
    globs = ("suite/*.yaml", "base/*/*.yaml", "chaos/*.yaml")
    for path in sorted(p for pattern in globs for p in MANIFESTS.glob(pattern)):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict):
                continue
            spec = doc.get("spec") or {}
            template = (spec.get("jobTemplate") or {}).get("spec", {}).get("template") or spec.get(
                "template"
            )
            if template and "containers" in (template.get("spec") or {}):
                name = f"{path.relative_to(MANIFESTS)}:{doc['kind']}/{doc['metadata']['name']}"
                namespace = str(doc["metadata"].get("namespace") or "default")
                yield name, _admitted(template, namespace)


TEMPLATES = dict(_pod_templates())


def test_the_manifests_pod_templates_are_found() -> None:
    names = set(TEMPLATES)
    assert "suite/runner.yaml:Job/chaosgate-gate" in names
    assert "suite/runner.yaml:CronJob/chaosgate-nightly" in names
    assert "suite/sink.yaml:Deployment/notification-sink" in names
    assert any(name.startswith("chaos/stress-cpu.yaml:Job/") for name in names)


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_volume_of_the_manifests_is_one_the_node_runs(name: str) -> None:
    pod = TEMPLATES[name]
    assert unsupported_volumes(pod) == []
    for container in pod["spec"]["containers"]:
        refs = volume_references(pod, container)
        inputs = VolumeInputs(
            config_maps={
                n: {"data": {"ca.crt": "CA", "target.yaml": "x"}} for n in refs.config_maps
            },
            secrets={n: {"data": {"token": "dG9r"}} for n in refs.secrets},
            tokens={t: "token" for t in refs.tokens},
        )
        mounts = container_mounts(pod, container, inputs, Path("/nonexistent"))
        expected = [m["mountPath"] for m in container.get("volumeMounts") or ()]
        assert [m.path for m in mounts] == expected


@pytest.mark.tools
@pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root here")
@pytest.mark.parametrize(
    "name", ["suite/runner.yaml:Job/chaosgate-gate", "suite/runner.yaml:CronJob/chaosgate-nightly"]
)
def test_the_runner_reads_its_target_file_and_token_and_writes_reports(
    name: str, tmp_path: Path
) -> None:
    pod = TEMPLATES[name]
    (container,) = pod["spec"]["containers"]
    target_file = (MANIFESTS / "suite" / "target.yaml").read_text()
    inputs = VolumeInputs(
        config_maps={
            "chaosgate-target": {"data": {"target.yaml": target_file}},
            "kube-root-ca.crt": {"data": {"ca.crt": "CA PEM"}},
        },
        secrets={},
        tokens={TokenProjection("", 3607): "eyJ.runner"},
    )
    mounts = container_mounts(pod, container, inputs, tmp_path / "volumes")
    (tmp_path / "volumes" / "reports").mkdir(parents=True)
    (tmp_path / "root").mkdir()
    # the runner's own paths, from its command line
    command = container["command"]
    target = command[command.index("--target") + 1]
    reports = command[command.index("--reports") + 1]
    script = (
        "import json, os, sys; t, r, sa = sys.argv[1:]; "
        "open(os.path.join(r, 'report.json'), 'w').write('{}'); "
        "print(json.dumps([open(t).read(), open(sa + '/token').read(), "
        "open(sa + '/ca.crt').read(), open(sa + '/namespace').read()]))"
    )
    log = tmp_path / "log"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        process = spawn_with_volumes(
            [sys.executable, "-I", "-S", "-c", script, target, reports, SA_DIR],
            {"PATH": "/usr/bin:/bin"},
            "/",
            fd,
            Sandbox(str(tmp_path / "root"), mounts),
        )
    finally:
        os.close(fd)
    assert process.wait(timeout=20) == 0, log.read_text()
    assert json.loads(log.read_text()) == [target_file, "eyJ.runner", "CA PEM", "chaosgate"]
    assert (tmp_path / "volumes" / "reports" / "report.json").read_text() == "{}"
    assert not os.path.lexists(target) and not os.path.lexists(reports)
