"""The target: the deployed restaurant stack a run verifies, described by one YAML file.

```yaml
name: staging                      # optional, defaults to the file's stem
gateway_url: http://gw.example:8080
jaeger:        {query_url: http://jaeger.example:16686}
elasticsearch:
  url: https://es.example:9200
  index_pattern: restaurant-logs-*
  trace_id_field: trace_id
  request_id_field: request_id
  timestamp_field: "@timestamp"
  auth: {username: elastic, password_env: ES_PASSWORD}  # or *_file, api_key_env, api_key_file
  verify_tls: true
prometheus:    {url: http://prometheus.example:9090}
alertmanager:  {url: http://alertmanager.example:9093}
sink:          {url: http://sink.example:9095, receivers: [webhook, slack, email]}
kubernetes:                        # the cluster Kubernetes chaos acts on
  context: null                    # null: the kubeconfig's current context
  kubeconfig: null                 # null: $KUBECONFIG, ~/.kube/config, or in-cluster in a pod
  namespaces: [restaurant]         # the only namespaces experiments may act on
  stress_node: null                # node the stress pods are pinned to (null: their spec's)
chaos: kubernetes                  # which experiments it takes: kubernetes (experiments/k8s/)
                                   # or local (experiments/local/, the local process stack)
deadlines:     {traces_s: 30, logs_s: 30, alerts_s: 30}
```

Every field has the local reference stack's value as its default, except that a target
file takes Kubernetes chaos unless it says ``chaos: local`` (a deployed stack runs in a
cluster; only the local process stack takes ``local``). Two built-in targets: ``local`` is
all defaults (:func:`local_target` moves its ports), ``local-k8s`` the same stack run by
``chaosgate stack up --k8s`` (:func:`local_k8s_target`: the gateway's NodePort, the stack's
admin kubeconfig, Kubernetes chaos). ``load_target`` reads a file or a built-in, applies
``CHAOSGATE_*`` environment overrides (the rule is in :mod:`chaosgate.target_env`),
validates, and reads the Elasticsearch credential from the variable or file the target names
(:func:`resolve_target` also says where each value came from). Secrets are never written in a
target; once read they are held as ``SecretStr`` and left out of ``repr``, ``str`` and
:meth:`Target.redacted_dict`.
Relative paths (``password_file``, ``kubeconfig``) are relative to the current directory.

The pieces live in their own modules: the value types (:mod:`chaosgate.target_values`), the
models (:mod:`chaosgate.target_models`), the built-in targets
(:mod:`chaosgate.target_builtins`) and the reading of files and credentials
(:mod:`chaosgate.target_files`); everything is importable from here.

Every problem raises :class:`TargetError`: one line naming the source (the file, the
environment variable, or the built-in target), the key path, the bad value and the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaosgate.target_builtins import (
    BUILTIN_K8S_SOURCE,
    BUILTIN_SOURCE,
    BUILTIN_TARGETS,
    DEFAULT_LOCAL_K8S_PORTS,
    LOCAL_NODE_NAME,
    local_k8s_kubeconfig,
    local_k8s_target,
    local_target,
)
from chaosgate.target_env import (
    Sources,
    apply_overrides,
    describe_error,
    parse_env_overrides,
    record_sources,
    reject_literal_secrets,
    source_of,
)
from chaosgate.target_files import read_credential, read_target_file
from chaosgate.target_models import (
    DEFAULT_LOCAL_PORTS,
    LOCAL_HOST,
    AlertmanagerConfig,
    Deadlines,
    ElasticsearchAuth,
    ElasticsearchConfig,
    JaegerConfig,
    KubernetesConfig,
    PrometheusConfig,
    SinkConfig,
    Target,
    TargetError,
)
from chaosgate.target_values import MAX_DEADLINE_S, ChaosKind, SinkReceiver

__all__ = [
    "BUILTIN_K8S_SOURCE",
    "BUILTIN_SOURCE",
    "BUILTIN_TARGETS",
    "DEFAULT_LOCAL_K8S_PORTS",
    "DEFAULT_LOCAL_PORTS",
    "LOCAL_HOST",
    "LOCAL_NODE_NAME",
    "MAX_DEADLINE_S",
    "AlertmanagerConfig",
    "ChaosKind",
    "Deadlines",
    "ElasticsearchAuth",
    "ElasticsearchConfig",
    "JaegerConfig",
    "KubernetesConfig",
    "PrometheusConfig",
    "ResolvedTarget",
    "SinkConfig",
    "SinkReceiver",
    "Target",
    "TargetError",
    "load_target",
    "local_k8s_kubeconfig",
    "local_k8s_target",
    "local_target",
    "resolve_target",
]


@dataclass(frozen=True)
class ResolvedTarget:
    """A loaded target and where each of its values came from."""

    target: Target
    sources: Mapping[tuple[Any, ...], str]
    spec: str  # what was asked for: "local", "local-k8s" or the file's path

    def origin(self, *path: str) -> str:
        """Where the value at ``path`` came from: ``target file '...'``, ``environment
        variable CHAOSGATE_...`` or ``built-in target '...'``."""
        return source_of(self.sources, path)


def load_target(
    spec: str | Path | None,
    *,
    env: Mapping[str, str],
    local_ports: Mapping[str, int] | None = None,
) -> Target:
    """Load a target: ``None`` or ``"local"`` and ``"local-k8s"`` are the built-in ones,
    anything else a YAML path (see :func:`resolve_target`)."""
    return resolve_target(spec, env=env, local_ports=local_ports).target


def resolve_target(
    spec: str | Path | None,
    *,
    env: Mapping[str, str],
    local_ports: Mapping[str, int] | None = None,
) -> ResolvedTarget:
    """Load a target and record where each value came from.

    ``None`` or ``"local"`` is the built-in ``local``, ``"local-k8s"`` the built-in
    ``local-k8s`` (its kubeconfig follows ``CHAOSGATE_STACK_DIR`` in ``env``), anything else
    the path of a YAML file, which takes ``chaos: kubernetes`` unless it says otherwise.

    ``env`` (the CLI passes ``os.environ``; it is never read here) supplies the credential
    variables and overrides: ``CHAOSGATE_`` + the field path upper-cased joined by ``__``
    (``CHAOSGATE_GATEWAY_URL``, ``CHAOSGATE_DEADLINES__ALERTS_S``,
    ``CHAOSGATE_KUBERNETES__NAMESPACES=a,b``) beats the file. A ``CHAOSGATE_`` variable that
    looks like a field (has ``__``, or starts with a top-level field's first word) but names
    none is an error; ``CHAOSGATE_PORT_*``, ``CHAOSGATE_STACK_*``, ``CHAOSGATE_HOME`` and
    ``CHAOSGATE_CACHE`` are left to other parts (full rule: :mod:`chaosgate.target_env`).
    ``local_ports`` moves the built-in targets' ports (see :func:`local_target`).
    Raises :class:`TargetError` on any problem.
    """
    builtin = spec is None or str(spec) in BUILTIN_TARGETS
    named = True
    if spec is None or str(spec) == "local":
        source = BUILTIN_SOURCE
        raw: dict[Any, Any] = local_target(local_ports).redacted_dict()
    elif str(spec) == "local-k8s":
        source = BUILTIN_K8S_SOURCE
        raw = local_k8s_target(local_ports, env=env).redacted_dict()
    else:
        source = f"target file {str(spec)!r}"
        raw = read_target_file(str(spec), source)
        named = "name" in raw
        raw.setdefault("name", Path(spec).stem)
        raw.setdefault("chaos", "kubernetes")
    sources: Sources = {}
    record_sources(raw, source, sources)
    if not builtin and not named:
        sources[("name",)] = f"{source} (its file name; or set name: in the file)"
    overrides, problems = parse_env_overrides(Target, env)
    apply_overrides(raw, overrides, sources)
    problems += reject_literal_secrets(raw, sources)
    try:
        target = Target.model_validate(raw)
    except ValidationError as exc:
        problems += [describe_error(Target, e, sources) for e in exc.errors(include_url=False)]
    if problems:
        raise TargetError.from_problems(problems)
    return ResolvedTarget(
        target=read_credential(target, env, sources),
        sources=dict(sources),
        spec="local" if spec is None else str(spec),
    )
