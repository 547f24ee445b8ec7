"""Chaos Toolkit actions against the local stack (``type: python`` activities), in one module.

Experiment files name this module (``"module": "chaosgate.chaos.local_actions"``); the actions
live in one module per concept and are re-exported here unchanged:

- ``local_processes``: ``kill_service``, ``stop_program`` / ``start_program``;
- ``local_crash``: ``crash_repeatedly`` (a crash loop: killed again each time it is back);
- ``local_stress``: ``stress_cpu`` / ``stress_memory`` / ``stop_stress`` (bounded stress-ng,
  stopped by PID);
- ``local_faults``: ``set_faults`` / ``clear_faults`` (the services' ``/admin/faults``);
- ``local_devices``: ``silence_devices`` / ``decommission_devices`` (IoT devices that stop
  reporting);
- ``local_disk``: ``fill_disk`` / ``release_disk`` (loop-device filesystems filled up);
- ``local_log_flood``: ``flood_logs`` (the services' log flood switch, and the store's count
  of the flood's lines; its rollback is ``clear_faults``).

Each is a plain function taking JSON values; it finds the stack from ``CHAOSGATE_STACK_DIR``
(default ``.stack``) and its record, acts, and returns a small JSON-able dict that Chaos
Toolkit writes into the journal. A failure is an ``ActivityFailed`` saying what and how to fix.
A fault that outlives a crash of the runner is recorded under the stack's run dir before it is
injected, and its rollback undoes what the record says (idempotent: nothing recorded, nothing
to do).
"""

from __future__ import annotations

from chaosgate.chaos.local_crash import crash_repeatedly
from chaosgate.chaos.local_devices import decommission_devices, silence_devices
from chaosgate.chaos.local_disk import fill_disk, release_disk
from chaosgate.chaos.local_faults import clear_faults, set_faults
from chaosgate.chaos.local_log_flood import flood_logs
from chaosgate.chaos.local_processes import kill_service, start_program, stop_program
from chaosgate.chaos.local_stress import MAX_STRESS_S, stop_stress, stress_cpu, stress_memory

__all__ = [
    "MAX_STRESS_S",
    "clear_faults",
    "crash_repeatedly",
    "decommission_devices",
    "fill_disk",
    "flood_logs",
    "kill_service",
    "release_disk",
    "set_faults",
    "silence_devices",
    "start_program",
    "stop_program",
    "stop_stress",
    "stress_cpu",
    "stress_memory",
]
