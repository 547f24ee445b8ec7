"""What an Elasticsearch or OpenSearch error body says, in one line for a BackendError.

Both stores answer a failed request with a JSON body, in one of two forms, seen on
Elasticsearch 7.17 and OpenSearch 2.19 alike:

- an object: ``{"error": {"type": ..., "reason": ..., "root_cause": [...],
  "caused_by": {...}}, "status": 404}`` (a missing index, a query that does not parse, a text
  field aggregated);
- a string: ``{"error": "Incorrect HTTP method for uri [...]", "status": 405}``, or, from
  OpenSearch for an endpoint it does not have, ``{"error": "no handler found for uri [...]"}``
  with no ``status`` at all (Elasticsearch answers the same request with the object form).

:func:`error_reason` reads either into ``type: reason`` (with the deepest ``caused_by`` when it
says more), so a check's error names what the store objected to instead of a cut-off body.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["error_reason", "response_error_reason"]

_MAX_REASON = 300
_MAX_CAUSES = 5


def _typed(error: dict[str, Any]) -> str | None:
    kind = error.get("type")
    reason = error.get("reason")
    if isinstance(kind, str) and isinstance(reason, str):
        return f"{kind}: {reason}"
    if isinstance(reason, str):
        return reason
    return kind if isinstance(kind, str) else None


def error_reason(body: Any) -> str | None:
    """``type: reason`` of an error body in either form; None when ``body`` is not one."""
    if not isinstance(body, dict) or "error" not in body:
        return None
    error = body["error"]
    if isinstance(error, str):
        return error.strip()[:_MAX_REASON] or None
    if not isinstance(error, dict):
        return None
    line = _typed(error)
    if line is None:
        causes = error.get("root_cause")
        if isinstance(causes, list) and causes and isinstance(causes[0], dict):
            line = _typed(causes[0])
    if line is None:
        return None
    cause = error.get("caused_by")
    deepest: str | None = None
    for _ in range(_MAX_CAUSES):
        if not isinstance(cause, dict):
            break
        deepest = _typed(cause) or deepest
        cause = cause.get("caused_by")
    if deepest is not None and deepest not in line:
        line = f"{line} (caused by {deepest})"
    return line[:_MAX_REASON]


def response_error_reason(response: httpx.Response) -> str | None:
    """:func:`error_reason` of a response's body; None when the body is not JSON."""
    try:
        body = response.json()
    except ValueError:
        return None
    return error_reason(body)
