"""BackendError: the one exception every backend raises, whatever went wrong underneath."""

from __future__ import annotations

__all__ = ["BackendError"]


class BackendError(Exception):
    """A backend could not answer: transport error, timeout, non-2xx or a malformed answer.

    ``url`` never carries a query string or credentials (a Jaeger batch URL is kilobytes of ids;
    an Elasticsearch credential travels in a header and is never part of it).
    """

    def __init__(self, backend: str, url: str, reason: str, *, status: int | None = None) -> None:
        self.backend = backend
        self.url = url
        self.reason = reason
        self.status = status  # the HTTP status when the backend answered with a non-2xx
        super().__init__(f"{backend} at {url}: {reason}")
