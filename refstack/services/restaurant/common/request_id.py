"""``X-Request-ID``: taken from the request (or generated), kept for the request, echoed back."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, has_request_context, request

__all__ = ["HEADER", "current_request_id", "install_request_id"]

HEADER = "X-Request-ID"
_VALID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
_KEY = "restaurant_request_id"


def current_request_id() -> str:
    """The id of the request being handled (assigned on first use), "" outside a request."""
    if not has_request_context():
        return ""
    value = g.get(_KEY)
    if not isinstance(value, str):
        incoming = request.headers.get(HEADER, "")
        value = incoming if _VALID.fullmatch(incoming) else uuid.uuid4().hex
        setattr(g, _KEY, value)
    return value


def install_request_id(app: Flask) -> None:
    """An incoming id that is not 1-128 characters of ``[A-Za-z0-9._:-]`` is replaced."""

    @app.before_request
    def _take_request_id() -> None:
        current_request_id()

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        request_id = current_request_id()
        if request_id:
            response.headers[HEADER] = request_id
        return response
