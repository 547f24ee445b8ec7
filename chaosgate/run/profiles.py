"""Run profiles: how much load, which experiments, which bounds.

``smoke`` (about 2 minutes) and ``gate`` (about 5 minutes) are for pre-release gates;
``nightly`` runs every local experiment with longer load. Command-line options override a
profile's fields (``--users``, ``--duration``, ``--experiment``, ``--scenario``, ``--seed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

__all__ = ["PROFILES", "Profile", "ProfileError", "SloBounds", "resolve_profile"]

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "experiments" / "local"
SCENARIOS = ("Customer", "KitchenStaff", "IoTDevice")


class ProfileError(Exception):
    """An unknown profile, scenario or experiment, or a bad override."""


@dataclass(frozen=True)
class SloBounds:
    """Bounds the service must keep; ``*_in_fault`` apply inside fault windows."""

    error_ratio: float = 0.01
    p95_s: float = 1.0
    error_ratio_in_fault: float = 0.6
    p95_s_in_fault: float = 5.0


@dataclass(frozen=True)
class Profile:
    name: str
    duration_s: int  # load duration
    users: int
    spawn_rate: float
    experiments: tuple[str, ...]  # file names under experiments/local/
    chaos_start_s: int = 20  # load before the first fault
    recovery_s: int = 15  # quiet time between experiments
    scenarios: tuple[str, ...] = SCENARIOS
    weights: Mapping[str, int] = field(
        default_factory=lambda: {"Customer": 3, "KitchenStaff": 1, "IoTDevice": 2}
    )
    iot_devices: int = 20
    processes: int = 1  # Locust worker processes (`--processes`)
    shape: str | None = None  # steady / ramp / spike / step, or None for plain -u/-r/-t
    trace_sample: int | None = None  # None: every ledger id
    completeness: float = 1.0  # minimum share of ledger ids found in traces and logs
    slo: SloBounds = field(default_factory=SloBounds)
    seed: int = 1

    def experiment_paths(self, directory: Path = EXPERIMENTS_DIR) -> list[Path]:
        return [directory / name for name in self.experiments]


PROFILES: Mapping[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        duration_s=75,
        users=10,
        spawn_rate=5,
        experiments=("kill-users-service.json",),
    ),
    "gate": Profile(
        name="gate",
        duration_s=240,
        users=20,
        spawn_rate=5,
        experiments=(
            "kill-users-service.json",
            "gateway-error-ratio.json",
            "gateway-latency.json",
        ),
    ),
    "nightly": Profile(
        name="nightly",
        duration_s=600,
        users=30,
        spawn_rate=5,
        processes=2,
        experiments=(
            "kill-users-service.json",
            "gateway-error-ratio.json",
            "gateway-latency.json",
            "stop-log-shipper.json",
            "saturate-cpu.json",
        ),
        recovery_s=30,
        completeness=0.99,
    ),
}


def resolve_profile(
    name: str,
    *,
    users: int | None = None,
    duration_s: int | None = None,
    experiments: Sequence[str] = (),
    scenarios: Sequence[str] = (),
    seed: int | None = None,
    directory: Path = EXPERIMENTS_DIR,
) -> Profile:
    """The named profile with command-line overrides applied, validated."""
    if name not in PROFILES:
        raise ProfileError(
            f"--profile {name!r}: unknown profile; choose one of {', '.join(PROFILES)}"
        )
    profile = PROFILES[name]
    if users is not None:
        if users < 1:
            raise ProfileError(f"--users {users}: give at least 1 user")
        profile = replace(profile, users=users)
    if duration_s is not None:
        if duration_s < 10:
            raise ProfileError(f"--duration {duration_s}: give at least 10 seconds of load")
        profile = replace(profile, duration_s=duration_s)
    if seed is not None:
        profile = replace(profile, seed=seed)
    if scenarios:
        unknown = [s for s in scenarios if s not in SCENARIOS]
        if unknown:
            raise ProfileError(
                f"--scenario {unknown[0]!r}: unknown scenario; choose from {', '.join(SCENARIOS)}"
            )
        profile = replace(profile, scenarios=tuple(scenarios))
    if experiments:
        names = []
        for item in experiments:
            path = Path(item)
            if not path.suffix:
                path = path.with_suffix(".json")
            candidate = path if path.is_file() else directory / path.name
            if not candidate.is_file():
                raise ProfileError(
                    f"--experiment {item!r}: no such experiment file; give a path or a name from "
                    f"{directory} ({', '.join(sorted(p.stem for p in directory.glob('*.json')))})"
                )
            names.append(str(candidate.resolve()))
        profile = replace(profile, experiments=tuple(names))
    return profile
