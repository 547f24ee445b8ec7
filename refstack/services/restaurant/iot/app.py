"""The IoT service: kitchen devices send telemetry and heartbeats; the list says who is online.

Run: ``python -m gunicorn -b 127.0.0.1:8083 -w 1 -k gthread --threads 16
'restaurant.iot.app:create_app()'`` with the environment of refstack/CONTRACT.md.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response, jsonify, request
from opentelemetry.sdk.trace.export import SpanExporter

from restaurant.common.errors import ApiError
from restaurant.common.payload import json_object, require_number
from restaurant.common.runtime import Runtime
from restaurant.common.service import build_service_app
from restaurant.common.settings import Settings
from restaurant.iot.devices import DEVICE_TYPES, DeviceCollector, DeviceRegistry

__all__ = ["MAX_BATCH", "create_app", "parse_reading"]

MAX_BATCH = 1000
_DEVICE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def create_app(
    settings: Settings | None = None,
    *,
    span_exporter: SpanExporter | None = None,
    runtime: Runtime | None = None,
) -> Flask:
    settings = settings or Settings.from_env("iot")
    app, service = build_service_app(settings, span_exporter=span_exporter, runtime=runtime)
    name = settings.service_name
    registry = DeviceRegistry(service.runtime.clock, settings.iot_offline_after_s)
    service.metrics.registry.register(DeviceCollector(name, registry))
    readings_total = service.metrics.counter(
        "iot_telemetry_readings_total",
        "Telemetry readings received, by device type.",
        ["device_type"],
    )
    for device_type in DEVICE_TYPES:
        readings_total.labels(name, device_type)

    @app.post("/api/iot/devices/<device_id>/telemetry")
    def telemetry(device_id: str) -> tuple[Response, int]:
        _check_device_id(device_id)
        body = json_object()
        if "readings" in body:
            batch = body["readings"]
            if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_BATCH:
                raise ApiError(
                    400, f"'readings' must be a list of 1 to {MAX_BATCH} readings, got {batch!r}"
                )
            readings = [parse_reading(item, f"readings[{i}].") for i, item in enumerate(batch)]
        else:
            readings = [parse_reading(body, "")]
        registry.record(device_id, readings)
        for reading in readings:
            readings_total.labels(name, reading["type"]).inc()
        return jsonify(device_id=device_id, accepted=len(readings)), 202

    @app.post("/api/iot/devices/<device_id>/heartbeat")
    def heartbeat(device_id: str) -> Response:
        _check_device_id(device_id)
        body = request.get_json(silent=True)
        device_type = None
        if isinstance(body, dict) and body.get("type") is not None:
            device_type = _device_type(body["type"], "")
        device = registry.heartbeat(device_id, device_type)
        return jsonify(device.as_json(registry.clock(), registry.offline_after_s))

    @app.delete("/api/iot/devices/<device_id>")
    def decommission(device_id: str) -> Response:
        _check_device_id(device_id)
        now = registry.clock()
        device = registry.remove(device_id)
        if device is None:
            raise ApiError(
                404, f"no device {device_id!r}; GET /api/iot/devices lists the known devices"
            )
        service.logs.app.info("device %s decommissioned", device_id)
        return jsonify({**device.as_json(now, registry.offline_after_s), "decommissioned": True})

    @app.get("/api/iot/devices")
    def devices() -> Response:
        now = registry.clock()
        listed = [device.as_json(now, registry.offline_after_s) for device in registry.devices()]
        online = sum(1 for device in listed if device["online"])
        return jsonify(devices=listed, online=online, offline=len(listed) - online)

    return app


def parse_reading(item: object, where: str) -> dict[str, Any]:
    """A reading: ``type`` (fridge, freezer, oven, sensor), ``temperature_c`` and any other
    scalar fields (kept as sent)."""
    if not isinstance(item, dict):
        raise ApiError(400, f"{where or 'the body'} must be a reading object, got {item!r}")
    reading = {
        key: value
        for key, value in item.items()
        if isinstance(value, str | int | float | bool) or value is None
    }
    reading["type"] = _device_type(item.get("type"), where)
    reading["temperature_c"] = require_number(item, "temperature_c", where=where)
    return reading


def _device_type(value: object, where: str) -> str:
    if value not in DEVICE_TYPES:
        raise ApiError(
            400, f"{where}'type' must be one of {', '.join(DEVICE_TYPES)}, got {value!r}"
        )
    return str(value)


def _check_device_id(device_id: str) -> None:
    if not _DEVICE_ID.fullmatch(device_id):
        raise ApiError(
            400,
            f"device id {device_id!r} must be 1-64 letters, digits, '.', '_', ':' or '-'",
        )
