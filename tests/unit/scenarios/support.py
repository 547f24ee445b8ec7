"""Typed doors to the few Locust calls it leaves unannotated."""

from __future__ import annotations

from typing import Any

from locust.event import EventHook, Events


def new_events() -> Events:
    return Events()  # type: ignore[no-untyped-call]


def fire(hook: EventHook, **kwargs: Any) -> None:
    hook.fire(**kwargs)  # type: ignore[no-untyped-call]
