"""The notification sink: an Alertmanager webhook receiver that records every notification.

Each POST is stamped with its arrival time, appended to a JSON-lines file (nothing is lost if
the sink restarts: it reloads the file) and kept in memory for queries:

- ``POST /alerts`` (or ``/``): an Alertmanager webhook payload;
- ``GET /notifications?alertname=X&status=firing|resolved``: recorded notifications, oldest first;
- ``GET /healthz``.

Served by werkzeug's threaded WSGI server: the sink receives a handful of notifications per
fault, so a production WSGI server would add a dependency and nothing else.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

__all__ = ["NotificationStore", "create_sink_app", "serve_sink"]


class NotificationStore:
    """Recorded notifications, in memory and in an append-only JSON-lines file."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.is_file():
                for line in path.read_text().splitlines():
                    if line.strip():
                        self._items.append(json.loads(line))

    def record(self, payload: Any, *, received_at: float) -> dict[str, Any]:
        item = {
            "received_at": datetime.fromtimestamp(received_at, UTC).isoformat(),
            "received_at_unix": received_at,
            "payload": payload,
        }
        with self._lock:
            self._items.append(item)
            if self._path is not None:
                with self._path.open("a") as out:
                    out.write(json.dumps(item) + "\n")
        return item

    def query(
        self, *, alertname: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self._items)
        return [item for item in items if _matches(item["payload"], alertname, status)]


def _matches(payload: Any, alertname: str | None, status: str | None) -> bool:
    if not isinstance(payload, dict):
        return alertname is None and status is None
    alerts = payload.get("alerts") or []
    if alertname is not None and not any(
        isinstance(a, dict) and a.get("labels", {}).get("alertname") == alertname for a in alerts
    ):
        return False
    return status is None or payload.get("status") == status


def create_sink_app(store: NotificationStore, *, clock: Any = time.time) -> Flask:
    app = Flask("chaosgate-sink")

    @app.post("/")
    @app.post("/alerts")
    def receive() -> tuple[Response, int]:
        received_at = clock()
        payload = request.get_json(silent=True)
        if payload is None:
            return jsonify(error="expected a JSON body (an Alertmanager webhook payload)"), 400
        store.record(payload, received_at=received_at)
        return jsonify(recorded=True), 200

    @app.get("/notifications")
    def notifications() -> Response:
        items = store.query(
            alertname=request.args.get("alertname"), status=request.args.get("status")
        )
        return jsonify(notifications=items)

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify(status="ok")

    return app


def serve_sink(host: str, port: int, out: Path | None) -> None:
    """Serve until interrupted (SIGINT/SIGTERM end the process)."""
    app = create_sink_app(NotificationStore(out))
    server = make_server(host, port, app, threaded=True)
    print(f"chaosgate sink listening on http://{host}:{port} (recording to {out})", flush=True)
    server.serve_forever()
