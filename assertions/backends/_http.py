"""One HTTP exchange with JSON in and out (or a page as text), every failure turned into a
BackendError."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx

from assertions.backends.errors import BackendError

__all__ = [
    "ErrorReader",
    "join_url",
    "request_json",
    "request_json_and_headers",
    "request_text",
    "strip_query",
]

_BODY_EXCERPT = 200

# what a backend's error body says, in one line (None: the body is not one of its errors)
ErrorReader = Callable[[httpx.Response], "str | None"]


def join_url(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def strip_query(url: str | httpx.URL) -> str:
    """The URL without query, fragment or user info: safe and short enough for a message."""
    parsed = httpx.URL(str(url))
    return str(parsed.copy_with(query=None, fragment=None, username=None, password=None))


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:_BODY_EXCERPT] + ("..." if len(text) > _BODY_EXCERPT else "")


def _send(
    client: httpx.Client,
    backend: str,
    method: str,
    url: str,
    *,
    params: Any = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    read_error: ErrorReader | None = None,
) -> httpx.Response:
    """Send one request and return its 2xx response; every failure is a BackendError (with
    what ``read_error`` makes of a non-2xx body, else an excerpt of it)."""
    safe_url = strip_query(url)
    try:
        response = client.request(
            method, url, params=params, json=json_body, headers=dict(headers or {})
        )
    except httpx.TimeoutException as exc:
        raise BackendError(backend, safe_url, f"timed out ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise BackendError(backend, safe_url, f"{type(exc).__name__}: {exc}") from exc
    except httpx.InvalidURL as exc:
        raise BackendError(backend, safe_url, f"invalid URL: {exc}") from exc
    if not response.is_success:
        said = read_error(response) if read_error is not None else None
        raise BackendError(
            backend,
            safe_url,
            f"HTTP {response.status_code}: {said or repr(_excerpt(response))}",
            status=response.status_code,
        )
    return response


def request_json(
    client: httpx.Client,
    backend: str,
    method: str,
    url: str,
    *,
    params: Any = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    read_error: ErrorReader | None = None,
) -> Any:
    """Send one request and return its decoded JSON body.

    Raises :class:`BackendError` on a transport error or timeout, a non-2xx status, or a body
    that is not JSON. The shape of the JSON is the caller's to check.
    """
    return request_json_and_headers(
        client,
        backend,
        method,
        url,
        params=params,
        json_body=json_body,
        headers=headers,
        read_error=read_error,
    )[0]


def request_json_and_headers(
    client: httpx.Client,
    backend: str,
    method: str,
    url: str,
    *,
    params: Any = None,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
    read_error: ErrorReader | None = None,
) -> tuple[Any, httpx.Headers]:
    """:func:`request_json`, with the response's headers (what a store says of itself there)."""
    response = _send(
        client,
        backend,
        method,
        url,
        params=params,
        json_body=json_body,
        headers=headers,
        read_error=read_error,
    )
    try:
        return response.json(), response.headers
    except ValueError as exc:
        raise BackendError(
            backend, strip_query(url), f"answer is not JSON: {_excerpt(response)!r}"
        ) from exc


def request_text(
    client: httpx.Client,
    backend: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
) -> str:
    """``GET url`` and return its body as text (a page, not an API answer); the same
    BackendError as :func:`request_json` on a transport error, timeout or non-2xx status."""
    return _send(client, backend, "GET", url, headers=headers).text
