"""The sink's HTTP side: Alertmanager's webhook and Slack receivers, the mail recorder, queries.

- ``POST /alerts`` (or ``/``): an Alertmanager webhook payload (receiver ``webhook``);
- ``POST /slack`` (or ``/slack/<anything>``, as a Slack hooks URL has a path): what
  Alertmanager's ``slack_configs`` post, ``{channel, username, attachments: [{title, text,
  ...}]}``, answered ``200 ok`` as Slack does (receiver ``slack``);
- ``POST /email``: a mail the SMTP receiver (:mod:`chaosgate.receivers.smtp`) parsed, with
  the time it arrived there (receiver ``email``);
- ``GET /notifications?receiver=&alertname=&status=``: recorded notifications, oldest first,
  every filter optional (see :func:`chaosgate.receivers.store.matches`);
- ``GET /healthz``.

Served by werkzeug's threaded WSGI server: the sink receives a handful of notifications per
fault, so a production WSGI server would add a dependency and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from assertions.backends.sink import INTEGRATIONS
from chaosgate.receivers.store import STATUSES, NotificationStore

__all__ = ["create_sink_app", "serve_sink"]

MAIL_FIELDS = ("subject", "from", "to", "text", "html", "message_id")


def create_sink_app(store: NotificationStore, *, clock: Callable[[], float] = time.time) -> Flask:
    """The WSGI app recording into ``store``; ``clock`` stamps webhook and Slack arrivals."""
    app = Flask("chaosgate-sink")

    @app.post("/")
    @app.post("/alerts")
    def receive_webhook() -> tuple[Response, int]:
        received_at = clock()
        payload = _json_object()
        if payload is None:
            return jsonify(error="expected a JSON object body (an Alertmanager webhook)"), 400
        store.record(payload, received_at=received_at, receiver="webhook")
        return jsonify(recorded=True), 200

    @app.post("/slack")
    @app.post("/slack/<path:_hook>")
    def receive_slack(_hook: str = "") -> tuple[Response, int]:
        received_at = clock()
        payload = _json_object()
        if payload is None:  # Slack's own answer to a body it cannot read
            return Response("invalid_payload", mimetype="text/plain"), 400
        title = _slack_title(payload)
        store.record(payload, received_at=received_at, receiver="slack", title=title)
        return Response("ok", mimetype="text/plain"), 200

    @app.post("/email")
    def receive_email() -> tuple[Response, int]:
        body = _json_object()
        problem = _mail_problem(body)
        if body is None or problem:
            return jsonify(error=problem), 400
        payload = {key: body[key] for key in MAIL_FIELDS if key in body}
        store.record(
            payload,
            received_at=float(body["received_at_unix"]),
            receiver="email",
            title=str(body["subject"]),
        )
        return jsonify(recorded=True), 200

    @app.get("/notifications")
    def notifications() -> tuple[Response, int]:
        receiver = request.args.get("receiver") or None
        status = request.args.get("status") or None
        if receiver is not None and receiver not in INTEGRATIONS:
            return jsonify(
                error=f"unknown receiver {receiver!r}; give one of {', '.join(INTEGRATIONS)}"
            ), 400
        if status is not None and status not in STATUSES:
            return jsonify(
                error=f"unknown status {status!r}; give one of {', '.join(STATUSES)}"
            ), 400
        items = store.query(
            receiver=receiver, alertname=request.args.get("alertname") or None, status=status
        )
        return jsonify(notifications=items), 200

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app


def _json_object() -> dict[str, Any] | None:
    payload = request.get_json(silent=True)
    return payload if isinstance(payload, dict) else None


def _slack_title(payload: Mapping[str, Any]) -> str:
    attachments = payload.get("attachments")
    if isinstance(attachments, list) and attachments and isinstance(attachments[0], dict):
        title = attachments[0].get("title")
        if isinstance(title, str):
            return title
    return ""


def _mail_problem(body: Mapping[str, Any] | None) -> str:
    """Why a ``POST /email`` body is not a parsed mail ("" when it is one)."""
    if body is None:
        return "expected a JSON object body (a mail parsed by `chaosgate sink smtp`)"
    received = body.get("received_at_unix")
    if isinstance(received, bool) or not isinstance(received, int | float):
        return f"received_at_unix {received!r} is not a number; send the arrival time in epoch s"
    if not isinstance(body.get("subject"), str):
        return f"subject {body.get('subject')!r} is not a string; send the mail's Subject"
    return ""


def serve_sink(host: str, port: int, out: Path | None) -> None:
    """Serve until interrupted (SIGINT/SIGTERM end the process)."""
    app = create_sink_app(NotificationStore(out))
    server = make_server(host, port, app, threaded=True)
    print(f"chaosgate sink listening on http://{host}:{port} (recording to {out})", flush=True)
    server.serve_forever()
