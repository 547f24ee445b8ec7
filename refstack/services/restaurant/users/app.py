"""The user service: register a user (unique e-mail address) and read it back.

Run: ``python -m gunicorn -b 127.0.0.1:8082 -w 1 -k gthread --threads 16
'restaurant.users.app:create_app()'`` with the environment of refstack/CONTRACT.md.
"""

from __future__ import annotations

import re

from flask import Flask, Response, jsonify
from opentelemetry.sdk.trace.export import SpanExporter

from restaurant.common.errors import ApiError
from restaurant.common.logs import format_timestamp
from restaurant.common.payload import json_object, require_str
from restaurant.common.runtime import Runtime
from restaurant.common.service import build_service_app
from restaurant.common.settings import Settings
from restaurant.users import store

__all__ = ["create_app"]

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def create_app(
    settings: Settings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    runtime: Runtime | None = None,
) -> Flask:
    settings = settings or Settings.from_env("users")
    app, service = build_service_app(
        settings, span_exporter=span_exporter, runtime=runtime, with_database=True
    )
    database = service.database
    assert database is not None
    store.prepare_database(database.engine)
    clock = service.runtime.clock

    @app.post("/api/users")
    def create_user() -> tuple[Response, int]:
        body = json_object()
        name = require_str(body, "name", max_length=200)
        email = require_str(body, "email", max_length=254).lower()
        if not _EMAIL.fullmatch(email):
            raise ApiError(400, f"'email' must look like name@example.com, got {email!r}")
        with database.transaction(write=True) as conn:
            user = store.create_user(conn, name=name, email=email, now=format_timestamp(clock()))
        service.logs.app.info("user %s registered", user["id"])
        return jsonify(user), 201

    @app.get("/api/users/<int:user_id>")
    def get_user(user_id: int) -> Response:
        with database.transaction() as conn:
            return jsonify(store.get_user(conn, user_id))

    return app
