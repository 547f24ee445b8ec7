"""The platform's API gateway, as far as the warm-up needs it: is it up, does it serve."""

from __future__ import annotations

import httpx

from assertions.backends.errors import BackendError

__all__ = ["GatewayBackend"]


class GatewayBackend:
    def __init__(self, client: httpx.Client, url: str) -> None:
        self._client = client
        self._url = url.rstrip("/")

    @property
    def url(self) -> str:
        return self._url

    def get_status(self, path: str) -> int:
        """The HTTP status of ``GET path``; a transport error is a BackendError."""
        url = f"{self._url}{path}"
        try:
            return self._client.get(url).status_code
        except httpx.HTTPError as exc:
            raise BackendError("gateway", url, f"{type(exc).__name__}: {exc}") from exc
