"""When a container that exited is started again (pure: times are passed in, in seconds).

As the kubelet: ``restartPolicy`` decides whether (Always: any exit, OnFailure: a non-zero
exit, Never: no), and a crash-loop back-off decides when. The first restart is immediate;
each further one waits 10 s, doubling up to 60 s (the kubelet's ceiling is 300 s; this node
keeps fault experiments short). A container that ran for 10 minutes before it exited starts
over from an immediate restart.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CrashBackoff", "should_restart"]


def should_restart(restart_policy: str, exit_code: int) -> bool:
    if restart_policy == "Never":
        return False
    if restart_policy == "OnFailure":
        return exit_code != 0
    return True


@dataclass
class CrashBackoff:
    initial_s: float = 10.0
    cap_s: float = 60.0
    reset_after_s: float = 600.0
    _next_s: float | None = None

    def delay_after_exit(self, started_at: float, finished_at: float) -> float:
        """Seconds to wait before starting a container that ran from ``started_at`` to
        ``finished_at`` (monotonic times); advances the back-off."""
        if finished_at - started_at >= self.reset_after_s:
            self._next_s = None
        if self._next_s is None:
            self._next_s = self.initial_s
            return 0.0
        delay = self._next_s
        self._next_s = min(self._next_s * 2, self.cap_s)
        return delay
