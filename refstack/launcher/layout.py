"""Where the local stack keeps its sources, its build cache and its running state.

Three places, each overridable from the environment:

- the source tree (``refstack/``, the folder this package is in): services, rules, build files;
- the build cache (``$CHAOSGATE_CACHE``, default ``~/.cache/chaosgate``): built binaries keyed by
  the hash of their inputs, so a fresh clone on the same machine reuses them;
- the state directory (``$CHAOSGATE_STACK_DIR``, default ``<repo>/.stack``): rendered
  configs, data directories, logs, the supervisord socket and the record of a running stack.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["StackLayout"]

_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class StackLayout:
    """Paths the launcher reads from and writes to."""

    repo_root: Path
    cache_dir: Path
    state_dir: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StackLayout:
        repo_root = Path(env.get("CHAOSGATE_HOME", str(_REPO_ROOT))).resolve()
        cache_default = Path(env.get("XDG_CACHE_HOME", str(Path.home() / ".cache"))) / "chaosgate"
        cache_dir = Path(env.get("CHAOSGATE_CACHE", str(cache_default))).resolve()
        state_dir = Path(env.get("CHAOSGATE_STACK_DIR", str(repo_root / ".stack"))).resolve()
        return cls(repo_root=repo_root, cache_dir=cache_dir, state_dir=state_dir)

    @property
    def refstack_src(self) -> Path:
        return self.repo_root / "refstack"

    @property
    def run_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def config_dir(self) -> Path:
        return self.state_dir / "config"

    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def log_dir(self) -> Path:
        """Supervisord's own log and each program's stdout/stderr."""
        return self.state_dir / "logs"

    @property
    def service_log_dir(self) -> Path:
        """The services' JSON-lines logs, tailed by rsyslog (nothing else may live here)."""
        return self.state_dir / "service-logs"

    @property
    def supervisor_socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def supervisor_pidfile(self) -> Path:
        return self.run_dir / "supervisord.pid"

    @property
    def record_file(self) -> Path:
        """What ``stack up`` started (ports, pid), read by ``status`` and ``down``."""
        return self.run_dir / "stack.json"

    def ensure_dirs(self) -> None:
        for path in (
            self.run_dir,
            self.config_dir,
            self.data_dir,
            self.log_dir,
            self.service_log_dir,
            self.cache_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def from_os_env() -> StackLayout:
        return StackLayout.from_env(os.environ)
