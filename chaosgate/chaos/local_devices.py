"""Kitchen devices that fall silent, and their decommissioning (``type: python`` activities).

- ``silence_devices``: registers ``count`` devices ``<prefix>-<n>`` in the IoT service with one
  heartbeat each, sent through the gateway like any device's; then nothing ever heartbeats for
  them again, so the IoT service counts them offline IOT_OFFLINE_AFTER_S (10 s) later — the
  real condition of IoTDeviceOffline, a device that stopped reporting;
- ``decommission_devices``: the rollback, ``DELETE /api/iot/devices/<id>`` for each recorded
  id straight on the IoT service (not through the gateway, which another fault may be breaking),
  tolerating ids the service no longer knows (it restarted, or they were deleted already).

The ids are recorded in ``<run dir>/chaos-devices.json`` before the first heartbeat, so a
rollback played by another process after a crash deletes exactly those.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from chaoslib.exceptions import ActivityFailed

from chaosgate.chaos.local_records import RECORD_LOCK, read_record, record_path, write_record
from chaosgate.chaos.local_stack import service_url
from chaosgate.http_clients import new_http_client

__all__ = ["MAX_DEVICES", "decommission_devices", "silence_devices"]

MAX_DEVICES = 100
_DEVICES_FILE = "chaos-devices.json"
_PREFIX = re.compile(r"[A-Za-z0-9._:\-]{1,58}")  # the IoT service's id rule, room for -<n>
_HTTP_TIMEOUT_S = 5.0


def _base_url(given: str | None, service: str) -> str:
    if given is None:
        return service_url(service)
    if not isinstance(given, str) or not given.startswith(("http://", "https://")):
        raise ActivityFailed(
            f"{service} url {given!r} must be an http(s) URL such as 'http://127.0.0.1:30080'"
        )
    return given.rstrip("/")


def _client(client: httpx.Client | None) -> tuple[httpx.Client, bool]:
    return (new_http_client(_HTTP_TIMEOUT_S), True) if client is None else (client, False)


def silence_devices(
    prefix: str,
    count: int = 1,
    device_type: str = "sensor",
    gateway_url: str | None = None,
    client: httpx.Client | None = None,
) -> dict[str, Any]:
    """Register ``count`` devices with one heartbeat each through the gateway; never again.

    ``gateway_url``: the platform's gateway (the Kubernetes stack's NodePort, say); by default
    the local stack's gateway. ``client`` is for tests; experiments leave it out.
    """
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise ActivityFailed(
            f"prefix {prefix!r} must be 1-58 letters, digits, '.', '_', ':' or '-' "
            "(device ids are <prefix>-<n>, at most 64 characters)"
        )
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_DEVICES:
        raise ActivityFailed(f"count must be a whole number from 1 to {MAX_DEVICES}, got {count!r}")
    ids = [f"{prefix}-{n}" for n in range(1, count + 1)]
    gateway = _base_url(gateway_url, "gateway")
    path = record_path(_DEVICES_FILE)
    with RECORD_LOCK:
        entries = read_record(path)
        known = {device for entry in entries for device in entry.get("ids", [])}
        taken = sorted(known & set(ids))
        if taken:
            raise ActivityFailed(
                f"devices {', '.join(taken)} are already recorded as silenced in {path}; "
                f"run decommission_devices({prefix!r}) first, or use another prefix"
            )
        entries.append({"prefix": prefix, "ids": ids, "recorded_at": time.time()})
        write_record(path, entries)
    http, own = _client(client)
    try:
        for device in ids:
            url = f"{gateway}/api/iot/devices/{device}/heartbeat"
            try:
                answer = http.post(url, json={"type": device_type})
            except httpx.HTTPError as exc:
                raise ActivityFailed(
                    f"POST {url} failed ({type(exc).__name__}: {exc}); is the gateway up? "
                    "check `chaosgate stack status`"
                ) from exc
            if answer.status_code != 200:
                raise ActivityFailed(
                    f"POST {url} answered HTTP {answer.status_code}: {answer.text[:300]}"
                )
    finally:
        if own:
            http.close()
    return {"prefix": prefix, "devices": ids, "last_heartbeat_at": time.time()}


def decommission_devices(
    prefix: str, iot_url: str | None = None, client: httpx.Client | None = None
) -> dict[str, Any]:
    """Delete the devices ``silence_devices(prefix)`` recorded; a no-op when none are.

    ``iot_url``: where the IoT API is (the IoT service, or a gateway that routes
    ``/api/iot``); by default the local stack's IoT service. ``client`` is for tests;
    experiments leave it out.
    """
    path = record_path(_DEVICES_FILE)
    with RECORD_LOCK:
        entries = read_record(path)
    mine = [entry for entry in entries if entry.get("prefix") == prefix]
    ids = [str(device) for entry in mine for device in entry.get("ids", [])]
    if not ids:
        return {"prefix": prefix, "decommissioned": [], "already_gone": []}
    iot = _base_url(iot_url, "iot")
    deleted: list[str] = []
    gone: list[str] = []
    http, own = _client(client)
    try:
        for device in ids:
            url = f"{iot}/api/iot/devices/{device}"
            try:
                answer = http.delete(url)
            except httpx.HTTPError as exc:
                raise ActivityFailed(
                    f"DELETE {url} failed ({type(exc).__name__}: {exc}); the record in {path} "
                    "is kept: play this rollback again once the IoT service is up"
                ) from exc
            if answer.status_code == 404:
                gone.append(device)
            elif answer.is_success:
                deleted.append(device)
            else:
                raise ActivityFailed(
                    f"DELETE {url} answered HTTP {answer.status_code}: {answer.text[:300]}; "
                    f"the record in {path} is kept"
                )
    finally:
        if own:
            http.close()
    with RECORD_LOCK:
        write_record(path, [e for e in read_record(path) if e.get("prefix") != prefix])
    return {"prefix": prefix, "decommissioned": deleted, "already_gone": gone}
