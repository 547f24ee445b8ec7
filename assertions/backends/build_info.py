"""BuildInfo: the version a part of the stack reports about itself, as its own API says it.

Every backend's ``version()`` answers one of these (Jaeger, Prometheus, Alertmanager,
Elasticsearch / OpenSearch; the Kubernetes API server through
:mod:`chaosgate.run.part_versions`). A run records them so that a replay, or a reader of the
report, can tell which releases the verdict was reached against. A field the part leaves
empty is None: an empty string would read like a version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BuildInfo", "details_of", "text_or_none"]


def text_or_none(value: Any) -> str | None:
    """``value`` when it is a non-empty string, else None (a missing or blank field)."""
    return value if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class BuildInfo:
    """What a part says it is: ``version`` (None: it reports none), the source revision and
    build date when it gives them, other facts it reports (``details``: distribution, branch,
    Go version, ...) and the ``endpoint`` that said so."""

    version: str | None
    endpoint: str
    revision: str | None = None
    build_date: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "revision": self.revision,
            "build_date": self.build_date,
            "details": dict(self.details),
            "endpoint": self.endpoint,
        }


def details_of(pairs: Mapping[str, Any]) -> dict[str, str]:
    """The non-empty string values of ``pairs`` (the keys as given)."""
    return {key: value for key, value in pairs.items() if text_or_none(value) is not None}
