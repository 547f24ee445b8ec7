"""/healthz answers from the check it is given."""

from __future__ import annotations

import httpx

from refstack.node.health import HealthServer


def test_healthz_follows_the_check() -> None:
    state = {"ok": False}
    server = HealthServer("127.0.0.1", 0, lambda: (state["ok"], "heartbeat failed: boom"))
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}"
        with httpx.Client(timeout=5, trust_env=False) as http:
            answer = http.get(f"{url}/healthz")
            assert (answer.status_code, answer.text) == (500, "heartbeat failed: boom\n")
            state["ok"] = True
            answer = http.get(f"{url}/healthz")
            assert (answer.status_code, answer.text) == (200, "ok\n")
            assert http.get(f"{url}/other").status_code == 404
    finally:
        server.stop()
