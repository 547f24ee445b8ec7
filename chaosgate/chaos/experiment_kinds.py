"""Which kind of chaos each activity of an experiment is, and the target's kind.

A target takes ``local`` chaos (the local process stack) or ``kubernetes`` chaos (a cluster,
through its API). The rule, per Python call the experiment makes (an activity's provider, a
probe in a tolerance, anywhere in the file):

- ``chaosk8s.*`` and ``chaosgate.chaos.k8s_*`` act through the Kubernetes API: kubernetes only;
- ``chaosgate.chaos.local_*`` act on the local process stack (kill its processes, flip its
  fault switches, stop its programs): local only;
- except the actions of :data:`ACTIVITY_KINDS`, which say themselves which kinds they serve:
  the node-level ``local_actions`` that act on the machine the runner runs on, not on a
  service: kitchen devices registered through the target's gateway
  (``silence_devices`` / ``decommission_devices``) and small loop filesystems of their own
  (``fill_disk`` / ``release_disk``), which on ``local-k8s`` is the cluster's node
  (experiments/k8s/silence-iot-devices.json, fill-node-disk.json);
- any other Python module is refused: chaosgate cannot tell what it acts on (and validating
  would import it). ``http`` and ``process`` providers are the experiment's own business and
  run on either kind.

:func:`check_chaos_kind` refuses an experiment with an activity of a kind the target does not
take, naming the experiment, the activity and the target, before chaoslib imports anything.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from chaosgate.chaos.experiment_errors import ExperimentError
from chaosgate.target_values import ChaosKind

__all__ = ["ACTIVITY_KINDS", "activity_kinds", "check_chaos_kind", "python_calls"]

_BOTH: tuple[ChaosKind, ...] = ("local", "kubernetes")
ACTIVITY_KINDS: Mapping[str, tuple[ChaosKind, ...]] = MappingProxyType(
    {
        "chaosgate.chaos.local_actions.silence_devices": _BOTH,
        "chaosgate.chaos.local_actions.decommission_devices": _BOTH,
        "chaosgate.chaos.local_actions.fill_disk": _BOTH,
        "chaosgate.chaos.local_actions.release_disk": _BOTH,
    }
)
"""Actions that serve other kinds than their module's: module.func -> the kinds."""

_LOCAL_MODULES = ("chaosgate.chaos.local_",)
_ADVICE: Mapping[ChaosKind, str] = {
    "kubernetes": "use an experiment of experiments/k8s/ (e.g. --experiment kill-users-pods), "
    "or a target that takes local chaos (--target local, or chaos: local in a target file)",
    "local": "use an experiment of experiments/local/ (e.g. --experiment kill-users-service), "
    "or a Kubernetes target (--target local-k8s, or chaos: kubernetes in a target file)",
}


def activity_kinds(module: str, func: str) -> tuple[ChaosKind, ...] | None:
    """The kinds of chaos ``module.func`` serves; None for a module chaosgate does not know."""
    listed = ACTIVITY_KINDS.get(f"{module}.{func}")
    if listed is not None:
        return listed
    if module == "chaosk8s" or module.startswith(("chaosk8s.", "chaosgate.chaos.k8s_")):
        return ("kubernetes",)
    if module.startswith(_LOCAL_MODULES):
        return ("local",)
    return None


def python_calls(node: object, where: tuple[Any, ...] = ()) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every Python provider (``{"type": "python", "module": ..., "func": ...}``) in ``node``,
    with its key path as text (``method[0].provider``)."""
    stack: list[tuple[object, tuple[Any, ...]]] = [(node, where)]
    found: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    while stack:
        value, path = stack.pop()
        if isinstance(value, dict):
            if value.get("type") == "python" and "func" in value:
                found.append((path, value))
            stack.extend((child, (*path, key)) for key, child in value.items())
        elif isinstance(value, list):
            stack.extend((child, (*path, index)) for index, child in enumerate(value))
    for path, provider in sorted(found, key=lambda item: [str(part) for part in item[0]]):
        text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
        yield text, provider


def _activity_name(experiment: Mapping[str, Any], where: str) -> str:
    """The name of the activity whose provider is at ``where`` (``method[0].provider``)."""
    node: Any = experiment
    for part in where.replace("[", ".[").split(".")[:-1]:
        if not part:
            continue
        key: Any = int(part[1:-1]) if part.startswith("[") else part
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return "?"
    return str(node.get("name", "?")) if isinstance(node, dict) else "?"


def check_chaos_kind(
    experiment: Mapping[str, Any], *, source: str, target: str, chaos: ChaosKind
) -> None:
    """Refuse the experiment at ``source`` unless every Python call it makes serves ``chaos``,
    the kind of the target named ``target``."""
    for where, provider in python_calls(experiment):
        module, func = str(provider.get("module")), str(provider.get("func"))
        kinds = activity_kinds(module, func)
        name = _activity_name(experiment, where)
        if kinds is None:
            raise ExperimentError(
                f"{source}: activity {name!r} ({where}) calls {module}.{func}, whose kind of "
                "chaos chaosgate does not know; use the activities of chaosgate.chaos.local_* "
                "(local chaos), chaosgate.chaos.k8s_* or chaosk8s (Kubernetes chaos)"
            )
        if chaos not in kinds:
            kind = "Kubernetes" if kinds == ("kubernetes",) else "local"
            raise ExperimentError(
                f"{source}: activity {name!r} ({where}, {module}.{func}) is {kind} chaos, but "
                f"target {target!r} takes {chaos} chaos only; {_ADVICE[chaos]}"
            )
