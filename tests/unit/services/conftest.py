from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.services.gunicorn_support import start
from tests.unit.services.support import Services, WsgiTransport

__all__ = ["services", "start", "transport"]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    built = Services(tmp_path)
    yield built
    built.close()


@pytest.fixture
def transport() -> WsgiTransport:
    return WsgiTransport()
