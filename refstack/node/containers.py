"""The life of one container of a pod: create, run, probe, restart, stop.

A :class:`ContainerRunner` is stepped by its pod's worker (:meth:`ContainerRunner.step`) and
never blocks: it starts the process when it is due, notices when it exits, kills it when a
liveness or startup probe gives up, and waits out the crash-loop back-off. Its
:meth:`~ContainerRunner.view` is what the pod status reports.

The image's ``start_delay_s`` is spent once, before the first start, with the container
waiting as ``ContainerCreating``: it stands for creating the pod sandbox and pulling and
starting the image, which is what a kubelet is busy with then. Restarts reuse the sandbox and
do not pay it again.

Every run appends to the container's one log file; just before each start the runner notes
where the file ends (``runs_path``, :mod:`.logfiles`), so that the kubelet API can serve one
run's log, the current or the previous, as a kubelet keeps one file per run.
"""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from refstack.node.backoff import CrashBackoff, should_restart
from refstack.node.clock import Clock
from refstack.node.logfiles import record_run_start
from refstack.node.mountns import Sandbox
from refstack.node.podenv import ContainerEnvError
from refstack.node.podstatus import ContainerView, Running, Terminated, Waiting
from refstack.node.probes import ProbeTarget, ProbeWorker
from refstack.node.processes import forget_process, record_process, signal_group, spawn

__all__ = ["ContainerRunner", "Launch", "RunnerContext"]

_log = logging.getLogger(__name__)
CONFIG_RETRY_S = 5.0


@dataclass(frozen=True)
class Launch:
    """How to start the container's process now (its config resolved)."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    sandbox: Sandbox | None = None  # its volumes, in a mount namespace of its own


@dataclass(frozen=True)
class RunnerContext:
    """What a container needs to know of its pod and node."""

    pod_label: str  # <namespace>/<name>, for logs and messages
    pod_uid: str
    pod_ip: str
    restart_policy: str
    log_path: Path
    record_path: Path
    kill_grace_s: float  # for a kill after a failed liveness/startup probe
    start_delay_s: float = 0.0
    restart_count: int = 0  # carried over when an earlier agent ran the pod
    last_state: Terminated | None = None  # likewise: how its previous run ended
    probe_http: httpx.Client | None = None
    backoff: CrashBackoff = field(default_factory=CrashBackoff)
    runs_path: Path | None = None  # where each run's start in the log is noted (.logfiles)


class ContainerRunner:
    def __init__(
        self,
        spec: Mapping[str, Any],
        *,
        image_id: str,
        image_error: str | None,
        prepare: Callable[[], Launch],
        context: RunnerContext,
        clock: Clock,
    ) -> None:
        self.name = str(spec["name"])
        self._spec = spec
        self._image_id = image_id
        self._prepare = prepare
        self._ctx = context
        self._clock = clock
        self.restart_count = context.restart_count
        self._pending_restart = False
        self._terminating = False
        self._process: subprocess.Popen[bytes] | None = None
        self._started_wall: datetime | None = None
        self._started_mono = 0.0
        self._kill_at = 0.0
        self._last: Terminated | None = context.last_state  # the latest run's end
        self._previous: Terminated | None = None  # the run before that (lastState)
        self._probes: dict[str, ProbeWorker] = {}
        self._due = clock.monotonic() + context.start_delay_s
        if image_error is not None:
            self._phase = "image_error"
            self._waiting = Waiting("ErrImagePull", image_error)
        else:
            self._phase = "creating"
            self._waiting = Waiting("ContainerCreating")

    # -- what the status reports ------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """Whether a process of this container is still running."""
        return self._phase in ("running", "killing")

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None and self.alive else None

    def _started(self) -> bool:
        startup = self._probes.get("startup")
        return self.alive and (startup is None or startup.result)

    def view(self) -> ContainerView:
        last_state = self._last
        if self.alive:
            assert self._started_wall is not None
            state: Waiting | Running | Terminated = Running(self._started_wall)
        elif self._phase == "exited" and self._last is not None:
            state, last_state = self._last, self._previous
        else:
            state = self._waiting
        readiness = self._probes.get("readiness")
        ready = (
            self._phase == "running" and self._started() and (readiness is None or readiness.result)
        )
        return ContainerView(
            name=self.name,
            image=str(self._spec.get("image", "")),
            image_id=self._image_id,
            state=state,
            last_state=last_state,
            ready=ready,
            started=self._started(),
            restart_count=self.restart_count,
            container_id=f"process://{self._process.pid}" if self.alive and self._process else None,
        )

    # -- driving it ---------------------------------------------------------------------------

    def step(self) -> None:
        """Advance the container by what is due now; never blocks."""
        now = self._clock.monotonic()
        if self._phase in ("creating", "backoff", "config_error") and now >= self._due:
            self._start(now)
        if not self.alive or self._process is None:
            return
        code = self._process.poll()
        if code is not None:
            self._exited(code, now)
        elif self._phase == "running":
            gave_up = next((p for p in self._probes.values() if p.gave_up), None)
            if gave_up is not None:
                _log.info(
                    "%s: container %s failed its %s probe (%s), killing it",
                    self._ctx.pod_label,
                    self.name,
                    gave_up.kind,
                    gave_up.last_message,
                )
                self._begin_kill(now, self._ctx.kill_grace_s)
        elif now >= self._kill_at:
            signal_group(self._process.pid, signal.SIGKILL)

    def terminate(self, grace_s: float) -> None:
        """Stop for good: SIGTERM now, SIGKILL after ``grace_s`` (see :meth:`step`)."""
        self._terminating = True
        now = self._clock.monotonic()
        if self._phase == "running":
            self._begin_kill(now, grace_s)
        elif self._phase == "killing":
            self._kill_at = min(self._kill_at, now + grace_s)
        elif not self.alive:
            self._phase = "exited"

    def kill(self) -> None:
        """Stop for good at once: SIGKILL to the process group, then reap it."""
        self._terminating = True
        if self.alive and self._process is not None:
            signal_group(self._process.pid, signal.SIGKILL)
            try:
                code = self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _log.error(
                    "%s: container %s (pid %d) survived SIGKILL",
                    self._ctx.pod_label,
                    self.name,
                    self._process.pid,
                )
                return
            self._exited(code, self._clock.monotonic())
        self._phase = "exited"

    # -- transitions ---------------------------------------------------------------------------

    def _begin_kill(self, now: float, grace_s: float) -> None:
        assert self._process is not None
        self._stop_probes()
        self._phase = "killing"
        self._kill_at = now + grace_s
        signal_group(self._process.pid, signal.SIGTERM)

    def _start(self, now: float) -> None:
        try:
            launch = self._prepare()
        except ContainerEnvError as exc:
            self._phase = "config_error"
            self._waiting = Waiting("CreateContainerConfigError", str(exc))
            self._due = now + CONFIG_RETRY_S
            return
        if self._pending_restart:
            self.restart_count += 1
            self._pending_restart = False
        self._started_mono = now
        self._started_wall = self._clock.wall()
        if self._ctx.runs_path is not None:
            try:
                record_run_start(self._ctx.runs_path, self._ctx.log_path)
            except OSError as exc:  # the logs API then takes this run for part of the last
                _log.warning("%s: run of %s not recorded: %s", self._ctx.pod_label, self.name, exc)
        try:
            process = spawn(
                launch.argv, launch.env, launch.cwd, self._ctx.log_path, sandbox=launch.sandbox
            )
        except OSError as exc:
            message = f"failed to start {launch.argv[0]!r} in {launch.cwd!r}: {exc.strerror or exc}"
            _log.warning("%s: container %s: %s", self._ctx.pod_label, self.name, message)
            ended = Terminated(128, "StartError", self._clock.wall(), None, message=message)
            self._after_stop(ended, now)
            return
        self._process = process
        self._phase = "running"
        record_process(self._ctx.record_path, process.pid)
        _log.info(
            "%s: container %s started, pid %d: %s",
            self._ctx.pod_label,
            self.name,
            process.pid,
            " ".join(launch.argv),
        )
        self._start_probes(launch)

    def _exited(self, code: int, now: float) -> None:
        assert self._process is not None
        pid = self._process.pid
        signal_group(pid, signal.SIGKILL)  # whatever the container left behind
        forget_process(self._ctx.record_path)
        self._stop_probes()
        sig = -code if code < 0 else None
        exit_code = 128 + sig if sig is not None else code
        ended = Terminated(
            exit_code,
            "Completed" if exit_code == 0 else "Error",
            self._clock.wall(),
            self._started_wall,
            signal=sig,
            container_id=f"process://{pid}",
        )
        _log.info(
            "%s: container %s (pid %d) exited %d", self._ctx.pod_label, self.name, pid, exit_code
        )
        self._after_stop(ended, now)

    def _after_stop(self, ended: Terminated, now: float) -> None:
        self._previous, self._last = self._last, ended
        if self._terminating or not should_restart(self._ctx.restart_policy, ended.exit_code):
            self._phase = "exited"
            return
        self._pending_restart = True
        delay = self._ctx.backoff.delay_after_exit(self._started_mono, now)
        if delay <= 0:
            self._start(now)
            return
        self._phase = "backoff"
        self._due = now + delay
        self._waiting = Waiting(
            "CrashLoopBackOff",
            f"back-off {delay:g}s restarting failed container={self.name} "
            f"pod={self._ctx.pod_label.replace('/', '_')}({self._ctx.pod_uid})",
        )

    # -- probes --------------------------------------------------------------------------------

    def _start_probes(self, launch: Launch) -> None:
        http = self._ctx.probe_http
        if http is None:
            return
        ports = {
            str(p["name"]): int(p["containerPort"])
            for p in self._spec.get("ports") or ()
            if p.get("name") and p.get("containerPort")
        }
        enter: tuple[str, ...] = ()
        if launch.sandbox is not None and self._process is not None:
            pid = self._process.pid
            nsenter = shutil.which("nsenter") or "nsenter"
            enter = (nsenter, f"--target={pid}", "--mount", "--root", "--wd", "--")
        target = ProbeTarget(self._ctx.pod_ip, ports, launch.env, launch.cwd, enter)
        label = f"{self._ctx.pod_label}/{self.name}"
        startup_spec = self._spec.get("startupProbe")
        startup = (
            ProbeWorker("startup", startup_spec, target, http, label=label)
            if startup_spec
            else None
        )

        def started() -> bool:
            return startup is None or startup.result

        self._probes = {"startup": startup} if startup else {}
        for kind in ("readiness", "liveness"):
            spec = self._spec.get(f"{kind}Probe")
            if spec:
                self._probes[kind] = ProbeWorker(
                    kind, spec, target, http, label=label, gate=started
                )
        for worker in self._probes.values():
            worker.start()

    def _stop_probes(self) -> None:
        for worker in self._probes.values():
            worker.stop()
        self._probes = {}
