"""Unit tests see none of the caller's ``CHAOSGATE_*`` settings: a developer's shell that
points chaosgate at a staging target (``CHAOSGATE_GATEWAY_URL``, ``CHAOSGATE_SEED``, a
deadline) must not change what a unit test observes. ``CHAOSGATE_CACHE`` stays: it says where
the built tools are (the Allure generator, promtool, actionlint), not how a run behaves."""

from __future__ import annotations

import os

import pytest

KEPT = frozenset({"CHAOSGATE_CACHE"})


@pytest.fixture(autouse=True)
def _no_caller_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("CHAOSGATE_") and n not in KEPT]:
        monkeypatch.delenv(name)
