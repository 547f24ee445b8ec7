"""A service's settings: the environment variables of refstack/CONTRACT.md, parsed and checked
once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TRACES_EXPORTERS", "Settings", "SettingsError"]

TRACES_EXPORTERS = ("otlp", "none")


class SettingsError(ValueError):
    """An environment variable is missing or has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """Everything a service reads from its environment (defaults from refstack/CONTRACT.md)."""

    service_name: str
    log_file: Path
    orders_url: str = "http://127.0.0.1:8081"
    users_url: str = "http://127.0.0.1:8082"
    iot_url: str = "http://127.0.0.1:8083"
    database_url: str | None = None
    db_pool_size: int = 5
    db_pool_timeout_s: float = 2.0
    otlp_endpoint: str = "http://127.0.0.1:4318"
    traces_exporter: str = "otlp"
    admin_faults: bool = False
    iot_offline_after_s: float = 10.0
    # the gateway's client timeouts towards its upstreams (not in the contract: fixed here)
    upstream_connect_timeout_s: float = 1.0
    upstream_read_timeout_s: float = 5.0

    @classmethod
    def from_env(cls, service: str, env: Mapping[str, str] | None = None) -> Settings:
        """Read the contract's variables; ``service`` is the name when SERVICE_NAME is unset."""
        source = os.environ if env is None else env
        log_file = source.get("LOG_FILE", "").strip()
        if not log_file:
            raise SettingsError(
                f"LOG_FILE is not set for service {service!r}; "
                "set it to the path of the JSON-lines log file this service writes"
            )
        exporter = source.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
        if exporter not in TRACES_EXPORTERS:
            choices = ", ".join(TRACES_EXPORTERS)
            raise SettingsError(f"OTEL_TRACES_EXPORTER is {exporter!r}; set it to one of {choices}")
        return cls(
            service_name=source.get("SERVICE_NAME", "").strip() or service,
            log_file=Path(log_file),
            orders_url=_url(source, "ORDERS_URL", cls.orders_url),
            users_url=_url(source, "USERS_URL", cls.users_url),
            iot_url=_url(source, "IOT_URL", cls.iot_url),
            database_url=source.get("DATABASE_URL", "").strip() or None,
            db_pool_size=int(_number(source, "DB_POOL_SIZE", cls.db_pool_size, integer=True)),
            db_pool_timeout_s=_number(source, "DB_POOL_TIMEOUT_S", cls.db_pool_timeout_s),
            otlp_endpoint=_url(source, "OTEL_EXPORTER_OTLP_ENDPOINT", cls.otlp_endpoint),
            traces_exporter=exporter,
            admin_faults=source.get("CHAOSGATE_ADMIN_FAULTS", "").strip() == "1",
            iot_offline_after_s=_number(source, "IOT_OFFLINE_AFTER_S", cls.iot_offline_after_s),
        )

    def require_database_url(self) -> str:
        if not self.database_url:
            raise SettingsError(
                f"DATABASE_URL is not set for service {self.service_name!r}; "
                "set it to a SQLAlchemy URL such as 'sqlite:////path/to/orders.db'"
            )
        return self.database_url


def _url(source: Mapping[str, str], name: str, default: str) -> str:
    value = source.get(name, "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} is {value!r}; set it to an http:// or https:// base URL")
    return value.rstrip("/")


def _number(
    source: Mapping[str, str], name: str, default: float, *, integer: bool = False
) -> float:
    raw = source.get(name, "").strip()
    if not raw:
        return default
    kind = "a whole number" if integer else "a number"
    try:
        value = float(int(raw)) if integer else float(raw)
    except ValueError:
        raise SettingsError(f"{name} is {raw!r}; set it to {kind} greater than 0") from None
    if not value > 0:
        raise SettingsError(f"{name} is {raw!r}; set it to {kind} greater than 0")
    return value
