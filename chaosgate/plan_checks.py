"""The checks ``run`` and ``replay`` make of a plan before anything acts: each experiment file
(chaoslib's validation, the kind of chaos, the target's Kubernetes namespace allowlist) and each
scenario (a user class the locustfile exports, as Locust itself lists them)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from chaosgate.run.profiles import Profile, ProfileError
from chaosgate.target import ResolvedTarget

__all__ = ["validate_experiments", "validate_scenarios"]


def validate_experiments(profile: Profile, resolved: ResolvedTarget) -> list[Path]:
    """chaoslib's validation of each experiment, then the target's namespace allowlist: no
    Kubernetes activity may act outside ``kubernetes.namespaces`` (nothing is contacted)."""
    from chaosgate.chaos.experiments import validate_experiment
    from chaosgate.chaos.k8s_namespaces import check_kubernetes_scope

    target = resolved.target
    allowlist = resolved.origin("kubernetes", "namespaces")
    paths = profile.experiment_paths()
    for path in paths:
        if not path.is_file():
            raise ProfileError(f"profile {profile.name!r}: experiment file {path} does not exist")
        experiment = validate_experiment(path, target=target.name, chaos=target.chaos)
        check_kubernetes_scope(
            experiment,
            source=str(path),
            target=target.name,
            chaos=target.chaos,
            namespaces=target.kubernetes.namespaces,
            allowlist=allowlist,
        )
    return paths


@functools.cache
def _user_classes(lister: Callable[[], list[str]]) -> tuple[str, ...]:
    """Locust's answer, asked once per process (it starts Locust in a process of its own)."""
    return tuple(lister())


def validate_scenarios(profile: Profile) -> None:
    """Ask Locust itself (in its own process) which user classes the locustfile exports."""
    from chaosgate.run.load import list_user_classes

    available = _user_classes(list_user_classes)
    missing = [name for name in profile.scenarios if name not in available]
    if missing:
        raise ProfileError(
            f"scenario {missing[0]!r} is not a user class of locustfile.py "
            f"(it has {', '.join(sorted(available)) or 'none'})"
        )
