"""Every kustomization under manifests/ (and every stress Job of manifests/chaos) is accepted by
a real API server (server-side dry run).

The fixture is a bare control plane of this module's own (ports 19379/19380 and 19443,
Service range 10.202.0.0/16; no controllers, no node: a dry run needs nothing else), so the
objects it sees are only the ones these tests send.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.integration.k8s.bare_control_plane import BareControlPlane, bare_control_plane

pytestmark = [pytest.mark.integration, pytest.mark.k8s]

MANIFESTS = Path(__file__).resolve().parents[3] / "manifests"
KUSTOMIZATIONS = ("base/restaurant", "overlays/local", "overlays/cluster", "suite")
NAMESPACES = ("restaurant", "chaosgate")
APISERVER_PORT = 19443
ETCD_PORT = 19379
SERVICE_CIDR = "10.202.0.0/16"


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BareControlPlane]:
    with bare_control_plane(
        tmp_path_factory.mktemp("control-plane"),
        api_port=APISERVER_PORT,
        etcd_port=ETCD_PORT,
        service_cidr=SERVICE_CIDR,
    ) as plane:
        # a dry run cannot create the namespaces the namespaced objects go into
        for namespace in NAMESPACES:
            created = plane.run("create", "namespace", namespace)
            assert created.returncode == 0, created.stderr
        yield plane


def _object_count(plane: BareControlPlane, directory: Path) -> int:
    rendered = plane.run("kustomize", str(directory))
    assert rendered.returncode == 0, rendered.stderr
    return sum(1 for doc in yaml.safe_load_all(rendered.stdout) if doc is not None)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_api_server_accepts_every_object(
    control_plane: BareControlPlane, kustomization: str
) -> None:
    directory = MANIFESTS / kustomization
    applied = control_plane.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=chaosgate-manifests-test",
        "-k",
        str(directory),
    )
    assert applied.returncode == 0, f"{kustomization}: {applied.stderr}"
    accepted = [line for line in applied.stdout.splitlines() if "(server dry run)" in line]
    assert len(accepted) == _object_count(control_plane, directory), applied.stdout


@pytest.mark.parametrize("spec", sorted(p.name for p in (MANIFESTS / "chaos").glob("*.yaml")))
def test_api_server_accepts_every_stress_job(control_plane: BareControlPlane, spec: str) -> None:
    """manifests/chaos holds plain files the experiments create, not a kustomization."""
    applied = control_plane.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=chaosgate-manifests-test",
        f"--filename={MANIFESTS / 'chaos' / spec}",
    )
    assert applied.returncode == 0, f"{spec}: {applied.stderr}"
    assert "job.batch/" in applied.stdout and "(server dry run)" in applied.stdout


def test_api_server_gives_the_local_gateway_node_port_30080(
    control_plane: BareControlPlane,
) -> None:
    applied = control_plane.run(
        "apply",
        "--server-side",
        "--dry-run=server",
        "--field-manager=chaosgate-manifests-test",
        "-k",
        str(MANIFESTS / "overlays" / "local"),
        "-o",
        "yaml",
    )
    assert applied.returncode == 0, applied.stderr
    answer = yaml.safe_load(applied.stdout)
    objects = answer["items"] if answer.get("kind") == "List" else [answer]
    (gateway,) = [
        o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "gateway"
    ]
    (port,) = gateway["spec"]["ports"]
    assert (gateway["spec"]["type"], port["nodePort"]) == ("NodePort", 30080)
