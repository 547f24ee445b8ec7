"""The target's models: one deployed stack's endpoints, log fields, cluster, kind of chaos and
deadlines, each field defaulting to the local reference stack's value.

Secrets are never written in a target; once read (:mod:`chaosgate.target_files`) they are held
as ``SecretStr`` and left out of ``repr``, ``str`` and :meth:`Target.redacted_dict`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from chaosgate.target_values import (
    SINK_RECEIVERS,
    DocField,
    EnvName,
    HttpUrlStr,
    IndexPattern,
    KindOfChaos,
    Namespaces,
    NodeName,
    NonEmpty,
    Seconds,
    SinkReceivers,
    TargetName,
    Username,
    reject,
)
from refstack.launcher.ports import DEFAULT_PORTS

__all__ = [
    "CREDENTIAL_REFS",
    "DEFAULT_LOCAL_PORTS",
    "LOCAL_HOST",
    "AlertmanagerConfig",
    "Deadlines",
    "ElasticsearchAuth",
    "ElasticsearchConfig",
    "JaegerConfig",
    "KubernetesConfig",
    "PrometheusConfig",
    "SinkConfig",
    "SpanStoreConfig",
    "Target",
    "TargetError",
    "local_url",
]

LOCAL_HOST = "127.0.0.1"

DEFAULT_LOCAL_PORTS: Mapping[str, int] = {
    name: DEFAULT_PORTS[name]
    for name in ("gateway", "jaeger_query", "store", "prometheus", "alertmanager", "sink")
}
"""The local stack's ports that the built-in target points at (from the stack's one table)."""

CREDENTIAL_REFS = ("password_env", "password_file", "api_key_env", "api_key_file")


class TargetError(Exception):
    """A target cannot be loaded. ``str()`` is one line; ``problems`` lists every problem found."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems: tuple[str, ...] = tuple(problems) or (message,)
        super().__init__(" ".join(message.splitlines()))

    @classmethod
    def from_problems(cls, problems: Sequence[str]) -> TargetError:
        """The first problem, with "(and N more)" when there are others."""
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return cls(problems[0] + more, problems)


def local_url(port_name: str, ports: Mapping[str, int] = DEFAULT_LOCAL_PORTS) -> str:
    """``http://127.0.0.1:<port>`` of the local stack's part ``port_name``."""
    return f"http://{LOCAL_HOST}:{ports[port_name]}"


_FROZEN = ConfigDict(extra="forbid", frozen=True)


class ElasticsearchAuth(BaseModel):
    """Where the Elasticsearch credential lives: exactly one of the ``*_env`` / ``*_file`` keys.

    ``password_*`` means Basic auth and needs ``username``; ``api_key_*`` holds the encoded API
    key (as Elasticsearch returns it in ``encoded``) and takes no username. The credential
    itself (``password`` / ``api_key``) is filled in by ``load_target`` and never serialized.
    """

    model_config = _FROZEN
    username: Username | None = None
    password_env: EnvName | None = None
    password_file: NonEmpty | None = None
    api_key_env: EnvName | None = None
    api_key_file: NonEmpty | None = None
    password: SecretStr | None = Field(default=None, exclude=True, repr=False)
    api_key: SecretStr | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="after")
    def _one_credential(self) -> ElasticsearchAuth:
        refs = [name for name in CREDENTIAL_REFS if getattr(self, name) is not None]
        if len(refs) > 1:
            reject(f"gives {' and '.join(refs)}; keep exactly one of {', '.join(CREDENTIAL_REFS)}")
        basic = self.password is not None or (bool(refs) and refs[0].startswith("password"))
        keyed = self.api_key is not None or (bool(refs) and refs[0].startswith("api_key"))
        if basic == keyed:
            reject(
                f"names {'two credentials' if basic else 'no credential'}; give one of "
                f"{', '.join(CREDENTIAL_REFS)}"
            )
        if basic and self.username is None:
            reject("uses a password but has no username; add username")
        if keyed and self.username is not None:
            reject("gives a username with an API key; remove username (the key names its user)")
        return self

    def header(self) -> dict[str, str]:
        """The ``Authorization`` header; the credential must have been read (``load_target``)."""
        if self.password is not None and self.username is not None:
            pair = f"{self.username}:{self.password.get_secret_value()}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        if self.api_key is not None:
            return {"Authorization": "ApiKey " + self.api_key.get_secret_value()}
        raise TargetError(
            "elasticsearch.auth: the credential has not been read; load the target with "
            "load_target(), which reads it from the *_env variable or *_file it names"
        )


class ElasticsearchConfig(BaseModel):
    """Where the services' logs are searched, and the document fields that carry the ids."""

    model_config = _FROZEN
    url: HttpUrlStr = local_url("store")
    index_pattern: IndexPattern = "restaurant-logs-*"
    trace_id_field: DocField = "trace_id"
    request_id_field: DocField = "request_id"
    timestamp_field: DocField = "@timestamp"
    auth: ElasticsearchAuth | None = None
    verify_tls: bool = True

    def auth_header(self) -> dict[str, str]:
        """Headers for every Elasticsearch request: ``{}`` without auth, else ``Authorization``."""
        return {} if self.auth is None else self.auth.header()


LOCAL_SPAN_INDEX = "jaeger-jaeger-span-*"  # the local stack's Jaeger writes with prefix "jaeger"


class SpanStoreConfig(BaseModel):
    """Where Jaeger writes its spans: the Elasticsearch / OpenSearch holding its span indices
    (``<index_prefix>-jaeger-span-YYYY-MM-DD``, or ``jaeger-span-...`` without a prefix).

    When a target names it, trace presence for the whole ledger is asked there (a few
    aggregations instead of one Jaeger query per trace id); the span tree of a sample is still
    read through Jaeger's API. ``auth`` and ``verify_tls`` work as in ``elasticsearch``.
    """

    model_config = _FROZEN
    url: HttpUrlStr = local_url("store")
    index: IndexPattern = LOCAL_SPAN_INDEX
    auth: ElasticsearchAuth | None = None
    verify_tls: bool = True

    def auth_header(self) -> dict[str, str]:
        """Headers for every span-store request: ``{}`` without auth, else ``Authorization``."""
        return {} if self.auth is None else self.auth.header()


class JaegerConfig(BaseModel):
    """Jaeger's query service (the HTTP API behind its UI), where it stores its spans (None:
    every trace is looked up through the query service), and the time within which the
    platform promises its trace queries answer (``traces.query_latency``)."""

    model_config = _FROZEN
    query_url: HttpUrlStr = local_url("jaeger_query")
    span_store: SpanStoreConfig | None = None
    query_latency_bound_s: Seconds = 1.0


class PrometheusConfig(BaseModel):
    """Prometheus' HTTP API."""

    model_config = _FROZEN
    url: HttpUrlStr = local_url("prometheus")


class AlertmanagerConfig(BaseModel):
    """Alertmanager's HTTP API."""

    model_config = _FROZEN
    url: HttpUrlStr = local_url("alertmanager")


class SinkConfig(BaseModel):
    """The sink that records Alertmanager's notifications.

    ``receivers``: the integrations whose deliveries chaosgate can read there (``webhook``,
    ``slack``, ``email``); all three on the local stack, whose Alertmanager delivers every
    integration to the sink. A real deployment whose Slack and mail chaosgate cannot read sets
    ``[webhook]``, or ``[]`` when it cannot read any.
    """

    model_config = _FROZEN
    url: HttpUrlStr = local_url("sink")
    receivers: SinkReceivers = SINK_RECEIVERS


class KubernetesConfig(BaseModel):
    """The cluster chaos acts on; ``namespaces`` are the only ones it may touch.

    ``kubeconfig`` None: chaosk8s's own lookup (``$KUBECONFIG``, ``~/.kube/config``, or the
    pod's ServiceAccount when the runner runs in the cluster); ``context`` None: the
    kubeconfig's current context. ``stress_node``: the node the node-saturation experiments
    pin their stress pod to (``kubernetes.io/hostname``); None keeps their spec's own choice.
    """

    model_config = _FROZEN
    context: NonEmpty | None = None
    kubeconfig: NonEmpty | None = None
    namespaces: Namespaces = ("restaurant",)
    stress_node: NodeName | None = None


class Deadlines(BaseModel):
    """How long, in seconds, a trace, a log line and an alert may take to show up."""

    model_config = _FROZEN
    traces_s: Seconds = 30.0
    logs_s: Seconds = 30.0
    alerts_s: Seconds = 30.0


class Target(BaseModel):
    """One deployed stack: its endpoints, log fields, cluster, kind of chaos and deadlines."""

    model_config = _FROZEN
    name: TargetName = "local"
    gateway_url: HttpUrlStr = local_url("gateway")
    jaeger: JaegerConfig = Field(default_factory=JaegerConfig)
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    sink: SinkConfig = Field(default_factory=SinkConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    chaos: KindOfChaos = "local"
    deadlines: Deadlines = Field(default_factory=Deadlines)

    def redacted_dict(self) -> dict[str, Any]:
        """JSON-ready fields for reports: credentials left out (only where they come from)."""
        return self.model_dump(mode="json")
