"""Is each part of the local stack up? Its supervisord state plus a health check: an HTTP GET,
or for an ``smtp://host:port`` health URL an SMTP NOOP (the sink's SMTP receiver)."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

__all__ = ["PartRow", "PartStatus", "probe_parts", "tree_rss_bytes"]


@dataclass(frozen=True)
class PartRow:
    """What the stack record keeps of a part: enough to check it without rebuilding anything."""

    name: str
    url: str
    health_url: str


@dataclass(frozen=True)
class PartStatus:
    name: str
    url: str
    process: str  # supervisord's state name, or "ABSENT" when supervisord is not running
    pid: int | None
    healthy: bool
    detail: str
    rss_bytes: int | None = None  # resident memory of the part's process tree

    @property
    def state(self) -> str:
        if self.healthy:
            return "up"
        if self.process in ("STARTING", "BACKOFF") or (
            self.process == "RUNNING" and not self.healthy
        ):
            return "starting"
        return "down"


SMTP_TIMEOUT_S = 3.0


def _check_smtp(url: str) -> tuple[bool, str]:
    """Connect, greet, NOOP, QUIT: healthy when the NOOP is answered 250."""
    parts = urlsplit(url)
    try:
        with smtplib.SMTP(parts.hostname or "", parts.port or 25, timeout=SMTP_TIMEOUT_S) as smtp:
            code, _ = smtp.noop()
    except (OSError, smtplib.SMTPException) as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return code == 250, f"SMTP NOOP {code}"


def _check(client: httpx.Client, url: str) -> tuple[bool, str]:
    return _check_smtp(url) if url.startswith("smtp://") else _check_http(client, url)


def _check_http(client: httpx.Client, url: str) -> tuple[bool, str]:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    if response.status_code >= 300:
        return False, f"HTTP {response.status_code}"
    if url.endswith("/_cluster/health"):
        try:
            status = response.json().get("status")
        except ValueError:
            return False, "cluster health is not JSON"
        return status in ("green", "yellow"), f"cluster {status}"
    return True, f"HTTP {response.status_code}"


def tree_rss_bytes(pid: int | None) -> int | None:
    """Resident memory of ``pid`` and all its descendants, or None when it is gone."""
    if pid is None:
        return None
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def probe_parts(
    rows: Sequence[PartRow],
    processes: Mapping[str, Mapping[str, Any]],
    client: httpx.Client,
) -> list[PartStatus]:
    """One status per part; ``processes`` is supervisord's info by name (empty when it is down)."""
    statuses = []
    for row in rows:
        info = processes.get(row.name)
        process = str(info["statename"]) if info else "ABSENT"
        pid = int(info["pid"]) if info and info.get("pid") else None
        if process != "RUNNING":
            healthy, detail = False, str(info.get("description", "")) if info else "not running"
        elif row.health_url:
            healthy, detail = _check(client, row.health_url)
        else:
            healthy, detail = True, "process running"
        statuses.append(
            PartStatus(row.name, row.url, process, pid, healthy, detail, tree_rss_bytes(pid))
        )
    return statuses
