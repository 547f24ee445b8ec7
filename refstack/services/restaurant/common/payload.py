"""Reading JSON request bodies: each helper returns the checked value or raises ApiError(400)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from flask import request

from restaurant.common.errors import ApiError

__all__ = ["json_object", "optional_int", "require_int", "require_number", "require_str"]


def json_object() -> dict[str, Any]:
    """The request body as a JSON object, or 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400, "the request body must be a JSON object (Content-Type: application/json)"
        )
    return body


def _field(body: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in body:
        raise ApiError(400, f"{where}{key!r} is missing; add it to the JSON body")
    return body[key]


def require_int(body: Mapping[str, Any], key: str, *, minimum: int, where: str = "") -> int:
    value = _field(body, key, where)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ApiError(400, f"{where}{key!r} must be an integer >= {minimum}, got {value!r}")
    return value


def optional_int(body: Mapping[str, Any], key: str, *, minimum: int, where: str = "") -> int | None:
    if body.get(key) is None:
        return None
    return require_int(body, key, minimum=minimum, where=where)


def require_number(body: Mapping[str, Any], key: str, *, where: str = "") -> float:
    value = _field(body, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ApiError(400, f"{where}{key!r} must be a number, got {value!r}")
    return float(value)


def require_str(body: Mapping[str, Any], key: str, *, max_length: int, where: str = "") -> str:
    value = _field(body, key, where)
    if not isinstance(value, str) or not value.strip() or len(value) > max_length:
        raise ApiError(
            400,
            f"{where}{key!r} must be a non-empty string of at most {max_length} characters, "
            f"got {value!r}",
        )
    return value.strip()
