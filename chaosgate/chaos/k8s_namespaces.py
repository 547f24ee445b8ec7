"""Which namespaces an experiment's activities act on, and the target's allowlist of them.

An activity acts on a namespace when its Python function takes an ``ns`` parameter (chaosk8s'
convention, which ``k8s_actions`` / ``k8s_probes`` follow): the ``ns`` argument it gives, or
else the function's default, which for chaosk8s is ``"default"`` (an activity that forgets
``ns`` acts on namespace ``default``). A ``spec_path`` argument adds the ``metadata.namespace``
of every object in that file. ``${name}`` in ``ns`` is resolved from the experiment's
``configuration`` as chaoslib would.

``check_kubernetes_scope`` runs before anything (the validate phase): an experiment with such
activities is refused, with one line naming the experiment, the activity, the namespace, and
where the allowlist lives, when the target takes local chaos only, or when a namespace is not in
the target's ``kubernetes.namespaces``. Nothing here talks to a cluster.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaoslib import substitute
from chaoslib.configuration import load_configuration
from chaoslib.exceptions import ChaosException

from chaosgate.chaos.experiments import Experiment, ExperimentError
from chaosgate.chaos.k8s_specs import SpecError, load_spec_documents, resolve_spec_path

__all__ = [
    "NAMESPACES_ENV",
    "ActivityInfo",
    "NamespaceUse",
    "acts_on_kubernetes",
    "check_kubernetes_scope",
    "experiment_activities",
]

NAMESPACES_ENV = "CHAOSGATE_KUBERNETES__NAMESPACES"


@dataclass(frozen=True)
class NamespaceUse:
    namespace: str
    via: str  # how the activity names it: its ns argument, the default, a spec file


@dataclass(frozen=True)
class ActivityInfo:
    """One activity of an experiment, where it is, what it calls and the namespaces it acts on."""

    where: str  # "steady-state-hypothesis.probes[0]", "method[1]", "rollbacks[0]"
    name: str
    kind: str  # "action" or "probe"
    call: str  # "chaosk8s.pod.actions.terminate_pods", "http GET ...", "process ..."
    namespaces: tuple[NamespaceUse, ...]


def _located(experiment: Experiment) -> Iterator[tuple[str, dict[str, Any]]]:
    hypothesis = experiment.get("steady-state-hypothesis") or {}
    phases: list[tuple[str, Any]] = [
        ("steady-state-hypothesis.probes", hypothesis.get("probes")),
        ("method", experiment.get("method")),
        ("rollbacks", experiment.get("rollbacks")),
    ]
    for prefix, items in phases:
        for index, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict) and "ref" not in item:
                yield f"{prefix}[{index}]", item


def _configuration(experiment: Experiment, source: str) -> dict[str, Any]:
    try:
        return dict(load_configuration(dict(experiment.get("configuration") or {})))
    except ChaosException as exc:
        raise ExperimentError(f"{source}: its configuration cannot be read: {exc}") from exc


def _namespace(value: object, configuration: Mapping[str, Any], where: str) -> str:
    text = substitute(value, dict(configuration), {}) if isinstance(value, str) else value
    if not isinstance(text, str) or not text or "${" in text:
        raise ExperimentError(
            f"{where}: namespace {value!r} cannot be told before the run; write the namespace "
            "itself, or a ${name} the experiment's configuration sets"
        )
    return text


def _function(module: str, func: str, where: str) -> Any:
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise ExperimentError(f"{where}: cannot find {module}.{func}: {exc}") from exc


def _uses(
    provider: Mapping[str, Any], configuration: Mapping[str, Any], where: str
) -> tuple[NamespaceUse, ...]:
    module, func = str(provider.get("module", "")), str(provider.get("func", ""))
    arguments = provider.get("arguments") or {}
    parameters = inspect.signature(_function(module, func, where)).parameters
    uses: list[NamespaceUse] = []
    if "ns" in parameters:
        if "ns" in arguments:
            uses.append(
                NamespaceUse(_namespace(arguments["ns"], configuration, where), "its ns argument")
            )
        elif parameters["ns"].default is not inspect.Parameter.empty:
            default = parameters["ns"].default
            uses.append(
                NamespaceUse(
                    _namespace(default, configuration, where),
                    f"no ns argument: {module.split('.')[0]}'s default",
                )
            )
    spec_path = arguments.get("spec_path")
    if "spec_path" in parameters and isinstance(spec_path, str):
        try:
            documents = load_spec_documents(resolve_spec_path(spec_path))
        except SpecError as exc:
            raise ExperimentError(f"{where}: {exc}") from exc
        for doc in documents:
            namespace = (doc.get("metadata") or {}).get("namespace")
            if namespace is not None:
                via = f"metadata.namespace of {doc.get('kind')} in {spec_path}"
                uses.append(NamespaceUse(_namespace(namespace, configuration, where), via))
    return tuple(uses)


def _call(provider: Mapping[str, Any]) -> str:
    kind = provider.get("type")
    if kind == "python":
        return f"{provider.get('module')}.{provider.get('func')}"
    if kind == "http":
        return f"http {provider.get('method', 'GET')} {provider.get('url')}"
    return f"{kind} {provider.get('path', '')}".strip()


def experiment_activities(experiment: Experiment, *, source: str) -> list[ActivityInfo]:
    """Every activity of the hypothesis, the method and the rollbacks (refs left out), with the
    namespaces it acts on; ``source`` names the experiment in errors. Imports the activities'
    modules and reads their spec files, nothing more."""
    configuration = _configuration(experiment, source)
    found = []
    for where, activity in _located(experiment):
        name = str(activity.get("name", "?"))
        provider = activity.get("provider") or {}
        label = f"{source}: activity {name!r} ({where})"
        uses = _uses(provider, configuration, label) if provider.get("type") == "python" else ()
        found.append(
            ActivityInfo(
                where=where,
                name=name,
                kind=str(activity.get("type", "?")),
                call=_call(provider),
                namespaces=uses,
            )
        )
    return found


def acts_on_kubernetes(activities: Sequence[ActivityInfo]) -> bool:
    return any(activity.namespaces for activity in activities)


def check_kubernetes_scope(
    experiment: Experiment,
    *,
    source: str,
    target: str,
    chaos: str,
    namespaces: Sequence[str],
    allowlist: str,
) -> list[ActivityInfo]:
    """Refuse the experiment at ``source`` unless every namespace it acts on is allowed.

    ``target`` names the target, ``chaos`` is its kind of chaos, ``namespaces`` its
    ``kubernetes.namespaces`` and ``allowlist`` says where that list was set (e.g.
    ``target file 'prod.yaml'``). Returns the activities (for the plan).
    """
    activities = experiment_activities(experiment, source=source)
    if chaos != "kubernetes" and acts_on_kubernetes(activities):
        first = next(a for a in activities if a.namespaces)
        raise ExperimentError(
            f"{source}: activity {first.name!r} ({first.where}) acts on Kubernetes namespace "
            f"{first.namespaces[0].namespace!r}, but target {target!r} takes {chaos} chaos "
            "only; run it against a Kubernetes target (--target local-k8s, or a target file "
            "with chaos: kubernetes)"
        )
    allowed = list(namespaces)
    for activity in activities:
        for use in activity.namespaces:
            if use.namespace in allowed:
                continue
            raise ExperimentError(
                f"{source}: activity {activity.name!r} ({activity.where}, {activity.call}) acts "
                f"on namespace {use.namespace!r} ({use.via}), which target {target!r} does not "
                f"allow: kubernetes.namespaces is {allowed} ({allowlist}); add the namespace "
                f"there or set {NAMESPACES_ENV}={','.join([*allowed, use.namespace])}, or make "
                "the activity act on an allowed one"
            )
    return activities
