"""Readiness, liveness and startup probes of a running container.

:class:`ProbeTracker` is the pure threshold logic; :func:`run_probe` performs one probe
(``httpGet``, ``tcpSocket`` or ``exec``; ``grpc`` is reported as unsupported);
:class:`ProbeWorker` is one probe's thread for one run of a container, as the kubelet runs
one worker per probe. Every probe target must be on loopback: a probe never connects
elsewhere. HTTP probes do not follow redirects (a 3xx counts as success, as in the kubelet
for a redirect to another host) and do not verify certificates.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "ProbeTarget",
    "ProbeTiming",
    "ProbeTracker",
    "ProbeWorker",
    "probe_timing",
    "run_probe",
]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeTiming:
    initial_delay_s: float = 0.0
    period_s: float = 10.0
    timeout_s: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3


def probe_timing(probe: Mapping[str, Any]) -> ProbeTiming:
    """The timing fields of a probe, with the API's defaults."""
    return ProbeTiming(
        initial_delay_s=float(probe.get("initialDelaySeconds") or 0),
        period_s=float(probe.get("periodSeconds") or 10),
        timeout_s=float(probe.get("timeoutSeconds") or 1),
        success_threshold=int(probe.get("successThreshold") or 1),
        failure_threshold=int(probe.get("failureThreshold") or 3),
    )


class ProbeTracker:
    """A probe's result: flips after ``success_threshold`` successes or ``failure_threshold``
    failures in a row; starts at ``initial`` (readiness: not ready; liveness: alive)."""

    def __init__(self, timing: ProbeTiming, initial: bool) -> None:
        self.timing = timing
        self.result = initial
        self.consecutive_failures = 0
        self._successes = 0

    def record(self, ok: bool) -> bool:
        """Count one outcome; True when the result changed."""
        if ok:
            self._successes += 1
            self.consecutive_failures = 0
            flip = not self.result and self._successes >= self.timing.success_threshold
        else:
            self.consecutive_failures += 1
            self._successes = 0
            flip = self.result and self.consecutive_failures >= self.timing.failure_threshold
        if flip:
            self.result = ok
        return flip


@dataclass(frozen=True)
class ProbeTarget:
    """What a probe needs to know of the container it checks."""

    pod_ip: str
    ports: Mapping[str, int]  # the container's named ports
    env: Mapping[str, str]  # for exec probes
    cwd: str
    # runs an exec probe's command inside the container's mount namespace (nsenter), when it
    # has one of its own, so the probe sees the container's volumes
    enter: tuple[str, ...] = ()


def _port(value: Any, target: ProbeTarget) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    if text in target.ports:
        return target.ports[text]
    raise ValueError(f"port {text!r} is not a named port of the container")


def _loopback_host(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"probe host {host!r} is not a loopback address; probes stay on loopback")
    return host


def _http_probe(
    spec: Mapping[str, Any], target: ProbeTarget, timeout_s: float, http: httpx.Client
) -> tuple[bool, str]:
    host = _loopback_host(str(spec.get("host") or target.pod_ip))
    port = _port(spec.get("port"), target)
    scheme = str(spec.get("scheme") or "HTTP").lower()
    path = str(spec.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    # no keep-alive, as the kubelet's probes: an idle pooled connection would hold up a
    # server's graceful shutdown
    headers = {"User-Agent": "kube-probe/chaosgate", "Accept": "*/*", "Connection": "close"}
    headers.update({str(h["name"]): str(h["value"]) for h in spec.get("httpHeaders") or ()})
    url = f"{scheme}://{host}:{port}{path}"
    try:
        response = http.get(url, headers=headers, timeout=timeout_s, follow_redirects=False)
    except httpx.HTTPError as exc:
        return False, f"GET {url}: {type(exc).__name__}: {exc}"
    return 200 <= response.status_code < 400, f"GET {url}: HTTP {response.status_code}"


def _tcp_probe(spec: Mapping[str, Any], target: ProbeTarget, timeout_s: float) -> tuple[bool, str]:
    host = _loopback_host(str(spec.get("host") or target.pod_ip))
    port = _port(spec.get("port"), target)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True, f"tcp {host}:{port} connected"
    except OSError as exc:
        return False, f"tcp {host}:{port}: {exc}"


def _exec_probe(spec: Mapping[str, Any], target: ProbeTarget, timeout_s: float) -> tuple[bool, str]:
    command = [str(part) for part in spec.get("command") or ()]
    if not command:
        return False, "exec probe has no command"
    try:
        process = subprocess.Popen(
            [*target.enter, *command],
            env=dict(target.env),
            cwd="/" if target.enter else target.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        return False, f"exec {command[0]!r}: {exc}"
    try:
        code = process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return False, f"exec {command[0]!r} timed out after {timeout_s:g}s"
    return code == 0, f"exec {command[0]!r} exited {code}"


def run_probe(
    probe: Mapping[str, Any], target: ProbeTarget, http: httpx.Client
) -> tuple[bool, str]:
    """Perform ``probe`` once: (success, what happened)."""
    timeout_s = probe_timing(probe).timeout_s
    try:
        if probe.get("httpGet"):
            return _http_probe(probe["httpGet"], target, timeout_s, http)
        if probe.get("tcpSocket"):
            return _tcp_probe(probe["tcpSocket"], target, timeout_s)
        if probe.get("exec"):
            return _exec_probe(probe["exec"], target, timeout_s)
    except ValueError as exc:
        return False, str(exc)
    return False, f"probe kind {sorted(probe)!r} is not supported; use httpGet, tcpSocket or exec"


class ProbeWorker:
    """Runs one probe every ``periodSeconds`` after ``initialDelaySeconds`` until stopped.

    ``gate`` holds the probe back while it returns False (readiness and liveness wait for a
    startup probe); ``result`` is the tracker's current verdict.
    """

    def __init__(
        self,
        kind: str,
        probe: Mapping[str, Any],
        target: ProbeTarget,
        http: httpx.Client,
        *,
        label: str,
        gate: Callable[[], bool] = lambda: True,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.timing = probe_timing(probe)
        self.tracker = ProbeTracker(self.timing, initial=kind == "liveness")
        self.last_message = ""
        self._target = target
        self._http = http
        self._label = label
        self._gate = gate
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"probe-{kind}-{label}", daemon=True
        )

    @property
    def result(self) -> bool:
        return self.tracker.result

    @property
    def gave_up(self) -> bool:
        """A liveness probe that failed, or a startup probe that failed ``failureThreshold``
        times in a row: the container is to be killed."""
        if self.kind == "startup":
            return self.tracker.consecutive_failures >= self.timing.failure_threshold
        return self.kind == "liveness" and not self.tracker.result

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        if self._stop.wait(self.timing.initial_delay_s):
            return
        while not self._stop.is_set():
            if self._gate():
                ok, message = run_probe(self.probe, self._target, self._http)
                self.last_message = message
                if self.tracker.record(ok):
                    _log.info(
                        "%s %s probe now %s: %s",
                        self._label,
                        self.kind,
                        "succeeding" if ok else "failing",
                        message,
                    )
                if self.kind == "startup" and self.tracker.result:
                    return
            self._stop.wait(self.timing.period_s)
