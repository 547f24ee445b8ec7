"""Errors a handler raises to answer with a JSON body ``{"error": message}``."""

from __future__ import annotations

from flask import Response, jsonify

__all__ = ["ApiError", "error_response"]


class ApiError(Exception):
    """Answer ``status`` with ``{"error": message}``; raised by handlers and request hooks."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_response(status: int, message: str) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response
