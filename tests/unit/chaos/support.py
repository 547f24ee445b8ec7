"""Builders for small experiment files made of ``fake_activities`` (no stack needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

FAKE = "tests.unit.chaos.fake_activities"
RULES = Path(__file__).resolve().parents[3] / "refstack" / "prometheus" / "rules.yml"


def rule_labels() -> dict[str, dict[str, str]]:
    """alertname -> the labels its rule in refstack/prometheus/rules.yml sets."""
    rules = yaml.safe_load(RULES.read_text())
    return {
        rule["alert"]: dict(rule.get("labels", {}))
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def activity(
    kind: str, name: str, func: str, *, background: bool = False, **arguments: Any
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": kind,
        "name": name,
        "provider": {"type": "python", "module": FAKE, "func": func, "arguments": arguments},
    }
    if background:
        doc["background"] = True
    return doc


def probe(name: str, func: str, tolerance: bool = True) -> dict[str, Any]:
    return {**activity("probe", name, func), "tolerance": tolerance}


def experiment(
    *,
    title: str = "break and repair",
    hypothesis: list[dict[str, Any]] | None = None,
    method: list[dict[str, Any]] | None = None,
    rollbacks: list[dict[str, Any]] | None = None,
    extension: dict[str, Any] | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": "1.0.0",
        "title": title,
        "description": "a unit-test experiment over fake_activities",
        "steady-state-hypothesis": {
            "title": "the system is intact",
            "probes": hypothesis if hypothesis is not None else [probe("is-intact", "intact")],
        },
        "method": method if method is not None else [activity("action", "break", "break_it")],
        "rollbacks": (
            rollbacks if rollbacks is not None else [activity("action", "repair", "repair")]
        ),
        "extensions": [
            extension
            if extension is not None
            else {"name": "chaosgate", "expected_alerts": [], "resolve_deadline_s": 60}
        ],
    }
    return doc


def write(tmp_path: Path, doc: dict[str, Any], name: str = "exp.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path
