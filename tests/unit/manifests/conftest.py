from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.unit.manifests.support import KUSTOMIZATIONS, MANIFESTS, Obj, find_kubectl, render


@pytest.fixture(scope="session")
def kubectl() -> Path:
    return find_kubectl(os.environ)


@pytest.fixture(scope="session")
def rendered(kubectl: Path) -> dict[str, list[Obj]]:
    """Every kustomization under manifests/, rendered once: name -> objects."""
    return {name: render(kubectl, MANIFESTS / path) for name, path in KUSTOMIZATIONS.items()}
