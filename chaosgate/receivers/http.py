"""The sink's HTTP side: Alertmanager's webhook and Slack receivers, the mail recorder, queries.

Deliveries (each needs ``Authorization: Bearer <token>``, the token of
:mod:`chaosgate.receivers.credential`; without it 401, with another one 403, nothing recorded):

- ``POST /alerts`` (or ``/``): an Alertmanager webhook message (receiver ``webhook``);
- ``POST /slack`` (or ``/slack/<anything>``, as a Slack hooks URL has a path): what
  Alertmanager's ``slack_configs`` post, ``{channel, username, attachments: [{title, text,
  ...}]}``, answered ``200 ok`` as Slack does (receiver ``slack``);
- ``POST /email``: a mail the SMTP receiver (:mod:`chaosgate.receivers.smtp`) parsed, with
  the time it arrived there (receiver ``email``).

A body over :data:`MAX_BODY_BYTES` is refused 413, one that is not shaped as Alertmanager
sends it (:mod:`chaosgate.receivers.payloads`) 400; neither is recorded.

Reads (open, as they change nothing; on their own port too with ``query_port``, so a
cluster's NetworkPolicy can admit Alertmanager to deliveries and the runner to reads):

- ``GET /notifications?receiver=&alertname=&status=``: recorded notifications, oldest first,
  every filter optional (see :func:`chaosgate.receivers.store.matches`);
- ``GET /healthz``.

Served by werkzeug's threaded WSGI server: the sink receives a handful of notifications per
fault, so a production WSGI server would add a dependency and nothing else.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import make_server

from assertions.backends.sink import INTEGRATIONS
from chaosgate.receivers.credential import Credential
from chaosgate.receivers.payloads import mail_problem, slack_problem, webhook_problem
from chaosgate.receivers.store import STATUSES, NotificationStore
from chaosgate.vocabulary import Clock

__all__ = ["MAX_BODY_BYTES", "create_query_app", "create_sink_app", "serve_sink"]

MAX_BODY_BYTES = 1024 * 1024  # Alertmanager's largest group notification is far smaller
MAIL_FIELDS = ("subject", "from", "to", "text", "html", "message_id")
_REALM = 'Bearer realm="chaosgate-sink"'


def create_sink_app(
    store: NotificationStore, credential: Credential, *, clock: Clock = time.time
) -> Flask:
    """The WSGI app recording into ``store`` what carries ``credential``; ``clock`` stamps
    webhook and Slack arrivals."""
    app = Flask("chaosgate-sink")
    # one byte more than the bound: werkzeug cuts a chunked body at this length without a
    # 413, so a body that reaches it is the one too large (see _json_body)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1

    @app.before_request
    def authenticate() -> tuple[Response, int] | None:
        if request.method != "POST":
            return None
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            answer = jsonify(error="no credential: a delivery needs Alertmanager's bearer token")
            answer.headers["WWW-Authenticate"] = _REALM
            return answer, 401
        if scheme.lower() != "bearer" or not credential.matches(token):
            return jsonify(error="wrong credential: not the token Alertmanager delivers with"), 403
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return _too_large()
        return None

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
        return _too_large()

    @app.post("/")
    @app.post("/alerts")
    def receive_webhook() -> tuple[Response, int]:
        received_at = clock()
        payload = _json_body()
        problem = webhook_problem(payload)
        if problem:
            return jsonify(error=problem), 400
        store.record(payload, received_at=received_at, receiver="webhook")
        return jsonify(recorded=True), 200

    @app.post("/slack")
    @app.post("/slack/<path:_hook>")
    def receive_slack(_hook: str = "") -> tuple[Response, int]:
        received_at = clock()
        payload = _json_body()
        if slack_problem(payload):  # Slack's own answer to a body it cannot read
            return Response("invalid_payload", mimetype="text/plain"), 400
        title = _slack_title(payload)
        store.record(payload, received_at=received_at, receiver="slack", title=title)
        return Response("ok", mimetype="text/plain"), 200

    @app.post("/email")
    def receive_email() -> tuple[Response, int]:
        body = _json_body()
        problem = mail_problem(body)
        if problem:
            return jsonify(error=problem), 400
        payload = {key: body[key] for key in MAIL_FIELDS if key in body}
        store.record(
            payload,
            received_at=float(body["received_at_unix"]),
            receiver="email",
            title=str(body["subject"]),
        )
        return jsonify(recorded=True), 200

    _add_reads(app, store)
    return app


def create_query_app(store: NotificationStore) -> Flask:
    """Reads only (``GET /notifications``, ``GET /healthz``): nothing here records."""
    app = Flask("chaosgate-sink-query")
    _add_reads(app, store)
    return app


def _add_reads(app: Flask, store: NotificationStore) -> None:
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


def _too_large() -> tuple[Response, int]:
    return jsonify(error=f"body larger than {MAX_BODY_BYTES} bytes; not a notification"), 413


def _json_body() -> Any:
    """The parsed JSON body, or None when it is not JSON (too large: 413, raised)."""
    if len(request.get_data(cache=True)) > MAX_BODY_BYTES:
        raise RequestEntityTooLarge()
    return request.get_json(silent=True)


def _slack_title(payload: Mapping[str, Any]) -> str:
    attachments = payload.get("attachments")
    if isinstance(attachments, list) and attachments and isinstance(attachments[0], dict):
        title = attachments[0].get("title")
        if isinstance(title, str):
            return title
    return ""


def serve_sink(
    host: str,
    port: int,
    out: Path | None,
    credential: Credential,
    *,
    query_port: int | None = None,
) -> None:
    """Serve until interrupted (SIGINT/SIGTERM end the process); with ``query_port`` the
    reads are also served there."""
    store = NotificationStore(out)
    server = make_server(host, port, create_sink_app(store, credential), threaded=True)
    if query_port is not None:
        reads = make_server(host, query_port, create_query_app(store), threaded=True)
        threading.Thread(target=reads.serve_forever, name="sink-query", daemon=True).start()
        print(f"chaosgate sink serving reads on http://{host}:{query_port}", flush=True)
    print(
        f"chaosgate sink listening on http://{host}:{port} (recording to {out}; deliveries "
        f"need the token from {credential.source})",
        flush=True,
    )
    server.serve_forever()
