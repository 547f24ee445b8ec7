"""The load's settings, read from ``CHAOSGATE_*`` environment variables (listed in README.md).

Every parser takes the environment as a mapping and raises :class:`SettingsError` naming the
variable, quoting its value and saying how to fix it; an unset or empty variable takes its
default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

__all__ = [
    "DEFAULT_WEIGHTS",
    "SHAPE_NAMES",
    "IoTSettings",
    "LoadSettings",
    "SettingsError",
    "ShapeSettings",
    "iot_settings",
    "load_settings",
    "shape_settings",
]

SHAPE_NAMES = ("steady", "ramp", "spike", "step")
DEFAULT_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {"Customer": 3, "KitchenStaff": 1, "IoTDevice": 2}
)


class SettingsError(ValueError):
    """A ``CHAOSGATE_*`` variable has a value the load cannot use."""


@dataclass(frozen=True)
class IoTSettings:
    devices: int = 20  # CHAOSGATE_IOT_DEVICES
    interval_s: float = 3.0  # CHAOSGATE_IOT_INTERVAL_S: heartbeat + telemetry period per device
    batch_every: int = 4  # CHAOSGATE_IOT_BATCH_EVERY: every n-th telemetry is a batch
    batch_size: int = 5  # CHAOSGATE_IOT_BATCH_SIZE: readings in a batch
    silent_share: float = 0.0  # CHAOSGATE_IOT_SILENT_SHARE: share of devices that go silent
    silent_from_s: float = 20.0  # CHAOSGATE_IOT_SILENT_FROM_S: run time the silence starts
    silent_until_s: float = math.inf  # CHAOSGATE_IOT_SILENT_UNTIL_S: run time it ends


@dataclass(frozen=True)
class LoadSettings:
    seed: int | None = None  # CHAOSGATE_SEED
    run_id: str = ""  # CHAOSGATE_RUN_ID: salts the request ids' seed, not the users' choices
    ledger_dir: Path | None = None  # CHAOSGATE_LEDGER_DIR
    shape: str | None = None  # CHAOSGATE_SHAPE
    weights: Mapping[str, int] = field(default_factory=lambda: DEFAULT_WEIGHTS)  # CHAOSGATE_WEIGHTS
    iot: IoTSettings = field(default_factory=IoTSettings)


@dataclass(frozen=True)
class ShapeSettings:
    users: int = 20  # CHAOSGATE_USERS
    spawn_rate: float = 5.0  # CHAOSGATE_SPAWN_RATE
    duration_s: float = 60.0  # CHAOSGATE_DURATION_S
    ramp_s: float = 30.0  # CHAOSGATE_RAMP_S (default: half the duration)
    spike_users: int = 20  # CHAOSGATE_SPIKE_USERS (default: as many as CHAOSGATE_USERS)
    spike_at_s: float = 20.0  # CHAOSGATE_SPIKE_AT_S (default: a third of the duration)
    spike_length_s: float = 10.0  # CHAOSGATE_SPIKE_LENGTH_S
    spike_spawn_rate: float = 20.0  # CHAOSGATE_SPIKE_SPAWN_RATE (default: spike users per s)
    step_users: int = 5  # CHAOSGATE_STEP_USERS
    step_s: float = 10.0  # CHAOSGATE_STEP_S


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _bad(name: str, value: str, want: str, example: str) -> SettingsError:
    return SettingsError(
        f"environment variable {name}={value!r}: {want}; set it to e.g. {example} or unset it"
    )


def _int(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise _bad(name, raw, f"must be a whole number >= {minimum}", str(max(default, minimum)))
    return value


def _float(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    minimum: float = 0.0,
    maximum: float = math.inf,
    exclusive_minimum: bool = True,
) -> float:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    low_ok = value > minimum if exclusive_minimum else value >= minimum
    if not (math.isfinite(value) and low_ok and value <= maximum):
        bound = f"> {minimum:g}" if exclusive_minimum else f">= {minimum:g}"
        if math.isfinite(maximum):
            bound += f" and <= {maximum:g}"
        raise _bad(name, raw, f"must be a number {bound}", f"{default:g}")
    return value


def _weights(env: Mapping[str, str]) -> Mapping[str, int]:
    name = "CHAOSGATE_WEIGHTS"
    raw = _raw(env, name)
    if raw is None:
        return DEFAULT_WEIGHTS
    weights = dict(DEFAULT_WEIGHTS)
    example = "Customer=3,KitchenStaff=1,IoTDevice=2"
    for part in raw.split(","):
        key, sep, text = (piece.strip() for piece in part.partition("="))
        if key not in DEFAULT_WEIGHTS:
            raise _bad(
                name, raw, f"{key!r} is not a user class ({', '.join(DEFAULT_WEIGHTS)})", example
            )
        if not sep or not text.isdigit() or int(text) < 1:
            raise _bad(name, raw, f"the weight of {key} must be a whole number >= 1", example)
        weights[key] = int(text)
    return MappingProxyType(weights)


def iot_settings(env: Mapping[str, str]) -> IoTSettings:
    silent_from = _float(env, "CHAOSGATE_IOT_SILENT_FROM_S", 20.0, exclusive_minimum=False)
    silent_until = _float(env, "CHAOSGATE_IOT_SILENT_UNTIL_S", math.inf)
    if silent_until <= silent_from:
        raise _bad(
            "CHAOSGATE_IOT_SILENT_UNTIL_S",
            str(env.get("CHAOSGATE_IOT_SILENT_UNTIL_S")),
            f"must be later than CHAOSGATE_IOT_SILENT_FROM_S ({silent_from:g})",
            f"{silent_from + 30:g}",
        )
    return IoTSettings(
        devices=_int(env, "CHAOSGATE_IOT_DEVICES", 20, minimum=1),
        interval_s=_float(env, "CHAOSGATE_IOT_INTERVAL_S", 3.0),
        batch_every=_int(env, "CHAOSGATE_IOT_BATCH_EVERY", 4, minimum=1),
        batch_size=_int(env, "CHAOSGATE_IOT_BATCH_SIZE", 5, minimum=1),
        silent_share=_float(
            env, "CHAOSGATE_IOT_SILENT_SHARE", 0.0, maximum=1.0, exclusive_minimum=False
        ),
        silent_from_s=silent_from,
        silent_until_s=silent_until,
    )


def _shape_name(env: Mapping[str, str]) -> str | None:
    raw = _raw(env, "CHAOSGATE_SHAPE")
    if raw is None:
        return None
    if raw.lower() not in SHAPE_NAMES:
        raise _bad(
            "CHAOSGATE_SHAPE", raw, f"must be one of {', '.join(SHAPE_NAMES)}", SHAPE_NAMES[0]
        )
    return raw.lower()


def load_settings(env: Mapping[str, str]) -> LoadSettings:
    """Everything but the shape's numbers (see :func:`shape_settings`)."""
    seed_raw = _raw(env, "CHAOSGATE_SEED")
    seed = None
    if seed_raw is not None:
        try:
            seed = int(seed_raw)
        except ValueError:
            raise _bad("CHAOSGATE_SEED", seed_raw, "must be a whole number", "1") from None
    run_id = _raw(env, "CHAOSGATE_RUN_ID") or ""
    if len(run_id) > 128:
        raise _bad("CHAOSGATE_RUN_ID", run_id, "must be at most 128 characters", "20260101-120000")
    ledger_raw = _raw(env, "CHAOSGATE_LEDGER_DIR")
    ledger_dir = Path(ledger_raw) if ledger_raw is not None else None
    if ledger_dir is not None and ledger_dir.exists() and not ledger_dir.is_dir():
        raise _bad(
            "CHAOSGATE_LEDGER_DIR", str(ledger_raw), "exists and is not a directory", "/tmp/ledger"
        )
    return LoadSettings(
        seed=seed,
        run_id=run_id,
        ledger_dir=ledger_dir,
        shape=_shape_name(env),
        weights=_weights(env),
        iot=iot_settings(env),
    )


def shape_settings(env: Mapping[str, str]) -> ShapeSettings:
    """The numbers the load shapes read; defaults derive from users and duration."""
    users = _int(env, "CHAOSGATE_USERS", 20, minimum=1)
    duration = _float(env, "CHAOSGATE_DURATION_S", 60.0)
    spike_users = _int(env, "CHAOSGATE_SPIKE_USERS", users, minimum=1)
    settings = ShapeSettings(
        users=users,
        spawn_rate=_float(env, "CHAOSGATE_SPAWN_RATE", 5.0),
        duration_s=duration,
        ramp_s=_float(env, "CHAOSGATE_RAMP_S", duration / 2),
        spike_users=spike_users,
        spike_at_s=_float(env, "CHAOSGATE_SPIKE_AT_S", duration / 3, exclusive_minimum=False),
        spike_length_s=_float(env, "CHAOSGATE_SPIKE_LENGTH_S", min(10.0, duration / 3)),
        spike_spawn_rate=_float(env, "CHAOSGATE_SPIKE_SPAWN_RATE", float(spike_users)),
        step_users=_int(env, "CHAOSGATE_STEP_USERS", max(1, users // 4), minimum=1),
        step_s=_float(env, "CHAOSGATE_STEP_S", 10.0),
    )
    if settings.spike_at_s >= duration:
        raise _bad(
            "CHAOSGATE_SPIKE_AT_S",
            str(env.get("CHAOSGATE_SPIKE_AT_S")),
            f"must be earlier than the end of the run (CHAOSGATE_DURATION_S={duration:g})",
            f"{duration / 3:g}",
        )
    return settings
