"""supervisord for the local stack: its config file, and a client for its XML-RPC socket.

supervisord (from PyPI) is the process manager: it starts each part, captures its output,
and restarts a part that dies, the way a Deployment replaces a killed pod. The launcher talks
to it over its unix socket only, so ``down`` stops exactly what ``up`` started.
"""

from __future__ import annotations

import shlex
import sys
import xmlrpc.client
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import SupervisorTransport

from refstack.launcher.layout import StackLayout

__all__ = ["Program", "SupervisorClient", "render_supervisord_conf", "supervisord_command"]


@dataclass(frozen=True)
class Program:
    """One supervised process of the stack."""

    name: str
    command: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    directory: Path | None = None
    stop_wait_s: int = 15
    # seconds supervisord waits before a process counts as started
    start_s: int = 1


def _env_line(env: Mapping[str, str]) -> str:
    def quote(value: str) -> str:
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
        return f'"{escaped}"'

    return ",".join(f"{key}={quote(value)}" for key, value in sorted(env.items()))


def _command_line(command: Sequence[str]) -> str:
    return shlex.join(command).replace("%", "%%")


def render_supervisord_conf(layout: StackLayout, programs: Sequence[Program]) -> str:
    """supervisord.conf with every program off at start; the launcher starts them in order."""
    lines = [
        "; rendered by chaosgate; do not edit (re-rendered on every `chaosgate stack up`)",
        "[unix_http_server]",
        f"file={layout.supervisor_socket}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={layout.log_dir / 'supervisord.log'}",
        f"pidfile={layout.supervisor_pidfile}",
        f"childlogdir={layout.log_dir}",
        f"directory={layout.repo_root}",
        "logfile_maxbytes=10MB",
        "logfile_backups=1",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
        "[supervisorctl]",
        f"serverurl=unix://{layout.supervisor_socket}",
    ]
    for program in programs:
        lines += [
            "",
            f"[program:{program.name}]",
            f"command={_command_line(program.command)}",
            f"directory={program.directory or layout.repo_root}",
            "autostart=false",
            "autorestart=true",
            f"startsecs={program.start_s}",
            "startretries=20",
            "stopsignal=TERM",
            f"stopwaitsecs={program.stop_wait_s}",
            "stopasgroup=true",
            "killasgroup=true",
            "redirect_stderr=true",
            f"stdout_logfile={layout.log_dir / (program.name + '.out.log')}",
            "stdout_logfile_maxbytes=20MB",
            "stdout_logfile_backups=1",
        ]
        if program.env:
            lines.append(f"environment={_env_line(program.env)}")
    return "\n".join(lines) + "\n"


def supervisord_command(conf: Path) -> list[str]:
    """supervisord from this Python environment; it daemonizes and outlives the CLI."""
    return [sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)]


class SupervisorClient:
    """The few XML-RPC calls the launcher needs, over supervisord's unix socket."""

    def __init__(self, socket_path: Path) -> None:
        transport = SupervisorTransport(None, None, serverurl=f"unix://{socket_path}")
        # the host part is ignored: the transport always dials the unix socket
        self._proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    @property
    def _rpc(self) -> Any:
        return self._proxy.supervisor

    def state(self) -> str:
        return cast(str, self._rpc.getState()["statename"])

    def pid(self) -> int:
        return cast(int, self._rpc.getPID())

    def processes(self) -> dict[str, dict[str, Any]]:
        """name -> supervisord's process info (statename, pid, description, ...)."""
        infos = cast(list[dict[str, Any]], self._rpc.getAllProcessInfo())
        return {info["name"]: info for info in infos}

    def process(self, name: str) -> dict[str, Any]:
        return cast(dict[str, Any], self._rpc.getProcessInfo(name))

    def start(self, name: str) -> None:
        try:
            self._rpc.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise

    def stop(self, name: str) -> None:
        try:
            self._rpc.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def shutdown(self) -> None:
        self._rpc.shutdown()
