"""The clock, sleep and randomness a service uses, passed in so tests can replace them."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Runtime"]


@dataclass(frozen=True)
class Runtime:
    """``clock`` is wall time in seconds (heartbeat ages), ``sleep`` blocks (injected latency and
    held connections), ``random`` draws in [0, 1) (injected error ratio)."""

    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = field(default_factory=lambda: random.Random().random)
