"""Chaos Toolkit actions against the local stack (``type: python`` activities), in one module.

Experiment files name this module (``"module": "chaosgate.chaos.local_actions"``); the actions
live in one module per concept and are re-exported here unchanged:

- ``local_processes``: ``kill_service``, ``stop_program`` / ``start_program``;
- ``local_stress``: ``stress_cpu`` / ``stop_stress`` (bounded stress-ng, stopped by PID);
- ``local_faults``: ``set_faults`` / ``clear_faults`` (the services' ``/admin/faults``).

Each is a plain function taking JSON values; it finds the stack from ``CHAOSGATE_STACK_DIR``
(default ``.stack``) and its record, acts, and returns a small JSON-able dict that Chaos
Toolkit writes into the journal. A failure is an ``ActivityFailed`` saying what and how to fix.
"""

from __future__ import annotations

from chaosgate.chaos.local_faults import clear_faults, set_faults
from chaosgate.chaos.local_processes import kill_service, start_program, stop_program
from chaosgate.chaos.local_stress import MAX_STRESS_S, stop_stress, stress_cpu

__all__ = [
    "MAX_STRESS_S",
    "clear_faults",
    "kill_service",
    "set_faults",
    "start_program",
    "stop_program",
    "stop_stress",
    "stress_cpu",
]
