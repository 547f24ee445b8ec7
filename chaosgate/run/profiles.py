"""Run profiles: how much load, which experiments, which bounds.

``smoke`` (about 2 minutes) and ``gate`` (about 5 minutes) are for pre-release gates;
``nightly`` runs every experiment with longer load. Each name exists once per kind of chaos,
which the target decides (``Target.chaos``): ``local`` profiles run experiments/local/
(process-level faults on the local stack), ``kubernetes`` ones experiments/k8s/ (chaosk8s and
chaosgate's own Kubernetes activities). Command-line options override a profile's fields
(``--users``, ``--duration``, ``--experiment``, ``--scenario``, ``--seed``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from chaosgate.input_files import file_kind
from chaosgate.target_env import quote
from chaosgate.target_values import ChaosKind
from chaosgate.vocabulary import SloBounds

__all__ = [
    "EXPERIMENT_DIRS",
    "IN_FAULT_SLO",
    "KUBERNETES_PROFILES",
    "MAX_DURATION_S",
    "MAX_SEED",
    "MAX_USERS",
    "MIN_DURATION_S",
    "OWN_PROFILE_EXPERIMENTS",
    "PROFILES",
    "STEADY_SLO",
    "AlertCoverage",
    "Profile",
    "ProfileError",
    "experiment_path",
    "profiles_for",
    "resolve_profile",
]

# the package's experiments/: in a checkout a link to the top-level experiments/ folder, in an
# installed wheel the files themselves (package data)
_EXPERIMENTS_ROOT = Path(__file__).resolve().parents[1] / "experiments"
EXPERIMENT_DIRS: Mapping[ChaosKind, Path] = {
    "local": _EXPERIMENTS_ROOT / "local",
    "kubernetes": _EXPERIMENTS_ROOT / "k8s",
}
EXPERIMENTS_DIR = EXPERIMENT_DIRS["local"]
SCENARIOS = ("Customer", "KitchenStaff", "IoTDevice")
MAX_USERS = 10_000  # concurrent Locust users a run may ask for
MIN_DURATION_S = 10
MAX_DURATION_S = 86_400  # a day of load
MAX_SEED = 2**63 - 1


AlertCoverage = Literal["all"] | tuple[str, ...]
# the SLO bounds the service must keep outside fault windows (and inside those of the faults it
# is built to survive, ``keeps_slo``), and inside the other fault windows
STEADY_SLO = SloBounds(max_error_ratio=0.01, max_p95_s=1.0)
IN_FAULT_SLO = SloBounds(max_error_ratio=0.6, max_p95_s=5.0)


class ProfileError(Exception):
    """An unknown profile, scenario or experiment, or a bad override."""


DEFAULT_CHECK_TIMEOUT_S = 60  # seconds a team's check may take (pytest-timeout)


@dataclass(frozen=True)
class Profile:
    name: str
    duration_s: int  # load duration
    users: int
    spawn_rate: float
    experiments: tuple[str, ...]  # file names under the chaos kind's folder, or paths
    chaos_start_s: int = 20  # load before the first fault
    recovery_s: int = 15  # quiet time between experiments
    scenarios: tuple[str, ...] = SCENARIOS
    weights: Mapping[str, int] = field(
        default_factory=lambda: {"Customer": 3, "KitchenStaff": 1, "IoTDevice": 2}
    )
    iot_devices: int = 20
    processes: int = 1  # Locust worker processes (`--processes`)
    # a distributed load (chaosgate.run.load_workers): Locust workers of the run's master,
    # started here (`--workers`) or elsewhere (`--expect-workers`, reaching `master_bind`)
    workers: int = 0
    expect_workers: int = 0
    master_bind: str = ""  # HOST:PORT the master listens on; "" with local workers only
    # a team's own pytest checks run after the built-in ones (chaosgate.run.team_checks):
    # the folder ("" for none) and the time each test may take
    checks: str = ""
    check_timeout_s: int = DEFAULT_CHECK_TIMEOUT_S
    shape: str | None = None  # steady / ramp / spike / step, or None for plain -u/-r/-t
    trace_sample: int | None = None  # None: every ledger id
    completeness: float = 1.0  # minimum share of ledger ids found in traces and logs
    slo: SloBounds = STEADY_SLO
    slo_in_fault: SloBounds = IN_FAULT_SLO
    seed: int = 1
    chaos: ChaosKind = "local"  # which folder the experiment names are in (EXPERIMENT_DIRS)
    # the alert rules this run must prove (fired in time, notified, resolved): "all" loaded
    # rules, or these names; judged by alerts.coverage
    alert_coverage: AlertCoverage = ()
    min_alert_recall: float = 1.0  # expected alerts that fired in time / expected
    # expected / all alert episodes that began inside fault windows (alerts.quality)
    min_alert_precision: float = 0.0

    def experiment_paths(self, directory: Path | None = None) -> list[Path]:
        base = EXPERIMENT_DIRS[self.chaos] if directory is None else directory
        return [base / name for name in self.experiments]


# Alert rules the gates must prove: the critical ones their experiments reach in about 5
# minutes (8 on Kubernetes). Not PodCrashLooping: proving it takes three restarts (~45 s) and
# its companion PodRestartingOften's 5-minute window to resolve; the nightly proves it.
GATE_RULES = (
    "UsersServiceDown",
    "GatewayHighErrorRate",
    "UsersServiceHighErrorRate",
    "OrderFailuresHigh",
    "IoTServiceHighErrorRate",
    "DatabasePoolExhausted",
    "IoTServiceDown",
)

# The gate: one experiment per critical rule, 20 s of load first, 10 s between faults (each
# fault's alerts resolve while the next one runs; every fault raises other alerts), about
# 35 s a fault, and a tail for the last one's notifications.
_GATE = (
    "kill-users-service.json",
    "gateway-error-ratio.json",
    "users-error-ratio.json",
    "orders-failing.json",
    "iot-error-ratio.json",
    "exhaust-orders-db-pool.json",
    "kill-iot-service.json",
)
# Experiments with a profile of their own, left out of the nightly: the log flood holds the
# services' CPU and the store's intake for a minute, which on the reference machine would
# cross the SLO windows and alert deadlines of the experiments around it.
OWN_PROFILE_EXPERIMENTS = ("log-flood.json",)
# The nightly: every local experiment but those, so every rule. kill-users-service first and
# crash-loop-users last, 16 minutes apart: PodRestartingOften counts restarts over 5 minutes,
# and crash-loop-users' alerts need about 5 minutes after it to resolve (the run waits).
_NIGHTLY = (
    "kill-users-service.json",
    "gateway-error-ratio.json",
    "gateway-latency.json",
    "users-error-ratio.json",
    "orders-failing.json",
    "iot-error-ratio.json",
    "drop-users-connections.json",
    "exhaust-orders-db-pool.json",
    "leak-users-db-connections.json",
    "silence-iot-devices.json",
    "kill-iot-service.json",
    "stop-log-shipper.json",
    "fill-disk.json",
    "saturate-cpu.json",
    "saturate-memory.json",
    "crash-loop-users.json",
)

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
        duration_s=330,  # 20 s + 7 faults of ~32 s + 6 x 10 s + a ~25 s tail
        users=20,
        spawn_rate=5,
        experiments=_GATE,
        recovery_s=10,
        alert_coverage=GATE_RULES,
    ),
    # the log pipeline at the platform's claimed 10,000 lines a second (experiments/local/
    # log-flood.json: 60 s of flood, up to 30 s for the last lines); a light load beside it
    "log-flood": Profile(
        name="log-flood",
        duration_s=140,  # 20 s + the flood's 60-90 s + a tail
        users=5,
        spawn_rate=5,
        experiments=("log-flood.json",),
    ),
    "nightly": Profile(
        name="nightly",
        duration_s=1160,  # 20 s + 16 faults of ~35-80 s + 15 x 30 s + a ~60 s tail
        users=30,
        spawn_rate=5,
        processes=2,
        experiments=_NIGHTLY,
        recovery_s=30,
        completeness=0.99,
        alert_coverage="all",
    ),
}


# Kubernetes chaos (experiments/k8s/). Experiment lengths, from their pauses and probes: about
# 10-25 s each for the pod kills (the replacement pod starts in ~15 s locally), 32 s to detach
# the orders Service or switch a fault on every pod, 47-50 s for the CPU stress pod (start, 45 s,
# delete and wait until gone), ~85 s for the memory one (held 80 s), ~60 s for the crash loop;
# between faults `recovery_s` lets the alerts of the last one resolve (a [15s] rate window, the
# rule's `for`, keep_firing_for).
_K8S_GATE = (
    "kill-users-pods.json",
    "kill-orders-pod.json",
    "remove-orders-endpoints.json",
    "users-error-ratio.json",
    "orders-failing.json",
    "iot-error-ratio.json",
    "exhaust-orders-db-pool.json",
    "kill-iot-pods.json",
)
_K8S_NIGHTLY = (
    "kill-users-pods.json",
    "kill-orders-pod.json",
    "remove-orders-endpoints.json",
    "gateway-error-ratio.json",
    "gateway-latency.json",
    "users-error-ratio.json",
    "orders-failing.json",
    "iot-error-ratio.json",
    "drop-users-connections.json",
    "exhaust-orders-db-pool.json",
    "leak-users-db-connections.json",
    "silence-iot-devices.json",
    "kill-iot-pods.json",
    "fill-node-disk.json",
    "saturate-node-cpu.json",
    "saturate-node-memory.json",
    "crash-loop-users-container.json",
)

KUBERNETES_PROFILES: Mapping[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        duration_s=75,
        users=10,
        spawn_rate=5,
        experiments=("kill-users-pods.json",),
        chaos="kubernetes",
    ),
    "gate": Profile(
        name="gate",
        duration_s=430,  # 20 s + 8 faults of ~25-45 s + 7 x 15 s + a ~25 s tail
        users=20,
        spawn_rate=5,
        experiments=_K8S_GATE,
        recovery_s=15,
        chaos="kubernetes",
        alert_coverage=GATE_RULES,
    ),
    "nightly": Profile(
        name="nightly",
        duration_s=1410,  # 20 s + 17 faults of ~25-90 s + 16 x 40 s + a ~60 s tail
        users=30,
        spawn_rate=5,
        processes=2,
        experiments=_K8S_NIGHTLY,
        recovery_s=40,
        completeness=0.99,
        chaos="kubernetes",
        alert_coverage="all",
    ),
}


def profiles_for(chaos: ChaosKind) -> Mapping[str, Profile]:
    """The profiles of one kind of chaos: PROFILES (local) or KUBERNETES_PROFILES."""
    return KUBERNETES_PROFILES if chaos == "kubernetes" else PROFILES


def resolve_profile(
    name: str,
    *,
    users: int | None = None,
    duration_s: int | None = None,
    experiments: Sequence[str] = (),
    scenarios: Sequence[str] = (),
    seed: int | None = None,
    chaos: ChaosKind = "local",
    directory: Path | None = None,
) -> Profile:
    """The named profile of ``chaos``'s kind with command-line overrides applied, validated.

    ``--experiment`` names are looked up in ``directory`` (default: the kind's folder).
    """
    available = profiles_for(chaos)
    if name not in available:
        raise ProfileError(
            f"--profile {quote(name)}: unknown profile; choose one of {', '.join(available)}"
        )
    directory = EXPERIMENT_DIRS[chaos] if directory is None else directory
    profile = available[name]
    if users is not None:
        _within("--users", users, 1, MAX_USERS, "a number of users")
        profile = replace(profile, users=users)
    if duration_s is not None:
        _within("--duration", duration_s, MIN_DURATION_S, MAX_DURATION_S, "seconds of load")
        profile = replace(profile, duration_s=duration_s)
    if seed is not None:
        _within("--seed", seed, 0, MAX_SEED, "a seed")
        profile = replace(profile, seed=seed)
    if scenarios:
        unknown = [s for s in scenarios if s not in SCENARIOS]
        if unknown:
            raise ProfileError(
                f"--scenario {quote(unknown[0])}: unknown scenario; choose from "
                f"{', '.join(SCENARIOS)}"
            )
        profile = replace(profile, scenarios=tuple(scenarios))
    if experiments:
        names = [str(experiment_path(item, directory).resolve()) for item in experiments]
        profile = replace(profile, experiments=tuple(names))
    return profile


def _within(option: str, value: int, low: int, high: int, what: str) -> None:
    if not low <= value <= high:
        shown = str(value) if len(str(value)) <= 40 else str(value)[:37] + "..."
        raise ProfileError(f"{option} {shown}: out of range; give {what} from {low} to {high}")


def experiment_path(item: str, directory: Path) -> Path:
    """The experiment file ``--experiment item`` names: a path to a regular file, or the name
    of one in ``directory`` (``.json`` added when it has no suffix)."""
    names = sorted(p.stem for p in directory.glob("*.json"))
    how = f"give a path or a name from {directory} ({', '.join(names)})"
    head = f"--experiment {quote(item)}"
    if not item.strip():
        raise ProfileError(f"{head}: is empty; {how}")
    kind = file_kind(item)
    if kind == "a regular file":
        return Path(item)
    if kind is not None:
        raise ProfileError(f"{head}: is {kind}, not an experiment file; {how}")
    path = Path(item)
    if path.name in ("", ".", ".."):
        raise ProfileError(f"{head}: no such experiment file; {how}")
    if not path.suffix:
        path = path.with_suffix(".json")
    candidate = directory / path.name
    if file_kind(candidate) != "a regular file":
        raise ProfileError(f"{head}: no such experiment file; {how}")
    return candidate
