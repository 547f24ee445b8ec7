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

Every problem raises :class:`TargetError`: one line naming the source (the file, the
environment variable, or the built-in target), the key path, the bad value and the fix.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from chaosgate.stack.layout import StackLayout
from chaosgate.stack.ports import DEFAULT_PORTS
from chaosgate.target_env import (
    Sources,
    apply_overrides,
    describe_error,
    parse_env_overrides,
    quote,
    record_sources,
    reject_literal_secrets,
    source_of,
)

__all__ = [
    "BUILTIN_K8S_SOURCE",
    "BUILTIN_SOURCE",
    "BUILTIN_TARGETS",
    "DEFAULT_LOCAL_K8S_PORTS",
    "DEFAULT_LOCAL_PORTS",
    "LOCAL_HOST",
    "LOCAL_NODE_NAME",
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

LOCAL_HOST = "127.0.0.1"

DEFAULT_LOCAL_PORTS: Mapping[str, int] = {
    name: DEFAULT_PORTS[name]
    for name in ("gateway", "jaeger_query", "opensearch", "prometheus", "alertmanager", "sink")
}
"""The local stack's ports that the built-in target points at (from the stack's one table)."""

DEFAULT_LOCAL_K8S_PORTS: Mapping[str, int] = {
    name: DEFAULT_PORTS[name]
    for name in (
        "gateway_nodeport",
        "jaeger_query",
        "opensearch",
        "prometheus",
        "alertmanager",
        "sink",
    )
}
"""The ports ``local-k8s`` points at: the gateway through its Service's NodePort."""

BUILTIN_SOURCE = "built-in target 'local'"
BUILTIN_K8S_SOURCE = "built-in target 'local-k8s'"
BUILTIN_TARGETS = ("local", "local-k8s")
LOCAL_NODE_NAME = "chaosgate-local"  # the node `stack up --k8s` registers (its node config)
MAX_DEADLINE_S = 3600.0
_CREDENTIAL_REFS = ("password_env", "password_file", "api_key_env", "api_key_file")


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


# --- field validators: each rejects with a reason that reads after the quoted value ---


def _reject(reason: str) -> NoReturn:
    raise PydanticCustomError("target_value", "{reason}", {"reason": reason})


def _check_url(value: str) -> str:
    fix = "write it as http://host:port"
    if not value.strip() or any(char.isspace() for char in value):
        _reject(f"is not an http(s) URL (it is empty or has spaces); {fix}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        _reject(f"is not an http(s) URL; {fix}")
    if "@" in parts.netloc:
        _reject("carries credentials; remove them and use elasticsearch.auth")
    if not parts.hostname:
        _reject(f"has no host; {fix}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is not None and not 1 <= port <= 65535:
        _reject(f"has an invalid port; {fix} with a port from 1 to 65535")
    if parts.query or parts.fragment:
        _reject("has a query or fragment; give only scheme, host, port and path")
    return value.rstrip("/")


def _check_deadline(value: float) -> float:
    if not 0 < value <= MAX_DEADLINE_S:
        _reject(f"is not a deadline in seconds; give a number > 0 and <= {MAX_DEADLINE_S:g}")
    return value


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        _reject("is not a number; write a number of seconds such as 30")
    return value


def _not_empty(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        _reject("is empty; list at least one namespace chaos may touch")
    return value


_CHAOS_KINDS = ("local", "kubernetes")


def _chaos_kind(value: object) -> object:
    if value not in _CHAOS_KINDS:
        _reject(
            "is not a kind of chaos; write kubernetes (experiments/k8s/, acting through the "
            "kubernetes section) or local (experiments/local/, the local process stack only)"
        )
    return value


def _matching(pattern: str, reason: str) -> AfterValidator:
    """Accept strings fully matching ``pattern``; reject others with ``reason``."""
    regex = re.compile(pattern)

    def check(value: str) -> str:
        if not regex.fullmatch(value):
            _reject(reason)
        return value

    return AfterValidator(check)


HttpUrlStr = Annotated[str, AfterValidator(_check_url)]
Seconds = Annotated[float, BeforeValidator(_not_bool), AfterValidator(_check_deadline)]
ChaosKind = Literal["local", "kubernetes"]
"""Which experiments a target takes: ``local`` (the local process stack) or ``kubernetes``."""

NodeName = Annotated[
    str,
    _matching(
        r"(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*",
        "is not a node name; use lowercase letters, digits, '-' and '.' (a DNS subdomain)",
    ),
]
Namespace = Annotated[
    str,
    _matching(
        r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?",
        "is not a DNS-1123 label; use at most 63 lowercase letters, digits and '-', "
        "starting and ending with a letter or digit",
    ),
]
EnvName = Annotated[
    str,
    _matching(
        r"[A-Za-z_][A-Za-z0-9_]*", "is not an environment variable name; give one like ES_PASSWORD"
    ),
]
NonEmpty = Annotated[str, _matching(r"(?s).*\S.*", "is empty; give a value or leave the key out")]
DocField = Annotated[
    str,
    _matching(
        r"\S+", "is not a document field name (empty or has spaces); write one like trace_id"
    ),
]
IndexPattern = Annotated[
    str,
    _matching(
        r"\S+", "is not an index pattern (empty or has spaces); write one like restaurant-logs-*"
    ),
]
Username = Annotated[
    str,
    _matching(r"[^:]+", "is not a username (empty or has ':'); give the Elasticsearch user name"),
]
TargetName = Annotated[
    str,
    _matching(
        r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}",
        "is not a target name; use up to 63 letters, digits, '.', '_' and '-'",
    ),
]


def _local_url(port_name: str, ports: Mapping[str, int] = DEFAULT_LOCAL_PORTS) -> str:
    return f"http://{LOCAL_HOST}:{ports[port_name]}"


_FROZEN = ConfigDict(extra="forbid", frozen=True)


class JaegerConfig(BaseModel):
    """Jaeger's query service: the HTTP API behind its UI."""

    model_config = _FROZEN
    query_url: HttpUrlStr = _local_url("jaeger_query")


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
        refs = [name for name in _CREDENTIAL_REFS if getattr(self, name) is not None]
        if len(refs) > 1:
            _reject(
                f"gives {' and '.join(refs)}; keep exactly one of {', '.join(_CREDENTIAL_REFS)}"
            )
        basic = self.password is not None or (bool(refs) and refs[0].startswith("password"))
        keyed = self.api_key is not None or (bool(refs) and refs[0].startswith("api_key"))
        if basic == keyed:
            _reject(
                f"names {'two credentials' if basic else 'no credential'}; give one of "
                f"{', '.join(_CREDENTIAL_REFS)}"
            )
        if basic and self.username is None:
            _reject("uses a password but has no username; add username")
        if keyed and self.username is not None:
            _reject("gives a username with an API key; remove username (the key names its user)")
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
    url: HttpUrlStr = _local_url("opensearch")
    index_pattern: IndexPattern = "restaurant-logs-*"
    trace_id_field: DocField = "trace_id"
    request_id_field: DocField = "request_id"
    timestamp_field: DocField = "@timestamp"
    auth: ElasticsearchAuth | None = None
    verify_tls: bool = True

    def auth_header(self) -> dict[str, str]:
        """Headers for every Elasticsearch request: ``{}`` without auth, else ``Authorization``."""
        return {} if self.auth is None else self.auth.header()


class PrometheusConfig(BaseModel):
    """Prometheus' HTTP API."""

    model_config = _FROZEN
    url: HttpUrlStr = _local_url("prometheus")


class AlertmanagerConfig(BaseModel):
    """Alertmanager's HTTP API."""

    model_config = _FROZEN
    url: HttpUrlStr = _local_url("alertmanager")


SinkReceiver = Literal["webhook", "slack", "email"]
_SINK_RECEIVERS: tuple[SinkReceiver, ...] = ("webhook", "slack", "email")


def _sink_receiver(value: object) -> object:
    if value not in _SINK_RECEIVERS:
        _reject(f"is not an integration the sink records; write {', '.join(_SINK_RECEIVERS)}")
    return value


def _each_once(value: tuple[str, ...]) -> tuple[str, ...]:
    if len(set(value)) != len(value):
        _reject("names an integration twice; list each at most once")
    return value


class SinkConfig(BaseModel):
    """The sink that records Alertmanager's notifications.

    ``receivers``: the integrations whose deliveries chaosgate can read there (``webhook``,
    ``slack``, ``email``); all three on the local stack, whose Alertmanager delivers every
    integration to the sink. A real deployment whose Slack and mail chaosgate cannot read sets
    ``[webhook]``, or ``[]`` when it cannot read any.
    """

    model_config = _FROZEN
    url: HttpUrlStr = _local_url("sink")
    receivers: Annotated[
        tuple[Annotated[SinkReceiver, BeforeValidator(_sink_receiver)], ...],
        AfterValidator(_each_once),
    ] = _SINK_RECEIVERS


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
    namespaces: Annotated[tuple[Namespace, ...], AfterValidator(_not_empty)] = ("restaurant",)
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
    gateway_url: HttpUrlStr = _local_url("gateway")
    jaeger: JaegerConfig = Field(default_factory=JaegerConfig)
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    sink: SinkConfig = Field(default_factory=SinkConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    chaos: Annotated[ChaosKind, BeforeValidator(_chaos_kind)] = "local"
    deadlines: Deadlines = Field(default_factory=Deadlines)

    def redacted_dict(self) -> dict[str, Any]:
        """JSON-ready fields for reports: credentials left out (only where they come from)."""
        return self.model_dump(mode="json")


# --- loading ---


def _merged_ports(
    defaults: Mapping[str, int], ports: Mapping[str, int] | None, source: str
) -> dict[str, int]:
    merged = dict(defaults)
    for name in defaults:
        if ports is None or name not in ports:
            continue
        port = ports[name]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise TargetError(
                f"{source}: ports.{name}: {port!r} is not a port number; "
                "give an integer from 1 to 65535"
            )
        merged[name] = port
    return merged


def _observability(ports: Mapping[str, int]) -> dict[str, Any]:
    return {
        "jaeger": JaegerConfig(query_url=_local_url("jaeger_query", ports)),
        "elasticsearch": ElasticsearchConfig(url=_local_url("opensearch", ports)),
        "prometheus": PrometheusConfig(url=_local_url("prometheus", ports)),
        "alertmanager": AlertmanagerConfig(url=_local_url("alertmanager", ports)),
        "sink": SinkConfig(url=_local_url("sink", ports)),
    }


def local_target(ports: Mapping[str, int] | None = None) -> Target:
    """The built-in target ``local`` on loopback; ``ports`` overrides DEFAULT_LOCAL_PORTS.

    Names other than those of DEFAULT_LOCAL_PORTS are ignored, so the stack's whole port table
    can be passed as it is.
    """
    merged = _merged_ports(DEFAULT_LOCAL_PORTS, ports, BUILTIN_SOURCE)
    return Target(
        name="local",
        gateway_url=_local_url("gateway", merged),
        chaos="local",
        **_observability(merged),
    )


def local_k8s_kubeconfig(env: Mapping[str, str]) -> Path:
    """The admin kubeconfig ``stack up --k8s`` writes: ``<state dir>/k8s/admin.kubeconfig``
    (the state dir follows ``CHAOSGATE_STACK_DIR``, see :class:`StackLayout`)."""
    return StackLayout.from_env(env).state_dir / "k8s" / "admin.kubeconfig"


def local_k8s_target(
    ports: Mapping[str, int] | None = None, *, env: Mapping[str, str] | None = None
) -> Target:
    """The built-in target ``local-k8s``: the local stack with the restaurant services as
    Deployments (``chaosgate stack up --k8s``).

    Its gateway is the gateway Service's NodePort (``gateway_nodeport``), the observability
    endpoints are ``local``'s, and chaos is Kubernetes chaos through the stack's admin
    kubeconfig (:func:`local_k8s_kubeconfig` of ``env``) on namespace ``restaurant``, stress
    pods pinned to the local node. ``ports`` overrides DEFAULT_LOCAL_K8S_PORTS (other names are
    ignored).
    """
    merged = _merged_ports(DEFAULT_LOCAL_K8S_PORTS, ports, BUILTIN_K8S_SOURCE)
    return Target(
        name="local-k8s",
        gateway_url=_local_url("gateway_nodeport", merged),
        kubernetes=KubernetesConfig(
            kubeconfig=str(local_k8s_kubeconfig(env or {})),
            namespaces=("restaurant",),
            stress_node=LOCAL_NODE_NAME,
        ),
        chaos="kubernetes",
        **_observability(merged),
    )


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
    if spec is None or str(spec) == "local":
        source = BUILTIN_SOURCE
        raw: dict[Any, Any] = local_target(local_ports).redacted_dict()
    elif str(spec) == "local-k8s":
        source = BUILTIN_K8S_SOURCE
        raw = local_k8s_target(local_ports, env=env).redacted_dict()
    else:
        source = f"target file {str(spec)!r}"
        raw = _read_file(Path(spec), source)
        raw.setdefault("name", Path(spec).stem)
        raw.setdefault("chaos", "kubernetes")
    sources: Sources = {}
    record_sources(raw, source, sources)
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
        target=_read_credential(target, env, sources),
        sources=dict(sources),
        spec="local" if spec is None else str(spec),
    )


def _read_file(path: Path, source: str) -> dict[Any, Any]:
    how = "give the path of a target YAML file, or 'local' or 'local-k8s' for a built-in target"
    try:
        if not path.exists():
            raise TargetError(f"{source}: does not exist; {how}")
        if path.is_dir():
            raise TargetError(f"{source}: is a directory; {how}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TargetError(f"{source}: is not UTF-8 text; save it as UTF-8 YAML") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise TargetError(
            f"{source}: cannot be read ({reason}); check the path and its permissions"
        ) from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise TargetError(
            f"{source}: {where}invalid YAML ({problem}); fix the YAML syntax there"
        ) from None
    except yaml.YAMLError as exc:
        raise TargetError(f"{source}: invalid YAML ({exc}); fix the YAML syntax") from None
    example = "write 'key: value' lines such as 'gateway_url: http://host:8080'"
    if data is None:
        raise TargetError(f"{source}: is empty; {example}")
    if not isinstance(data, dict):
        raise TargetError(f"{source}: the top level is {quote(data)}, not a mapping; {example}")
    return data


def _read_credential(target: Target, env: Mapping[str, str], sources: Sources) -> Target:
    """Fill in the Elasticsearch credential from the variable or file the target names."""
    auth = target.elasticsearch.auth
    if auth is None or auth.password is not None or auth.api_key is not None:
        return target
    ref = next(name for name in _CREDENTIAL_REFS if getattr(auth, name) is not None)
    named: str = getattr(auth, ref)
    head = f"{source_of(sources, ('elasticsearch', 'auth', ref))}: elasticsearch.auth.{ref}"
    secret_kind = "password" if ref.startswith("password") else "api_key"
    if ref.endswith("_env"):
        other = f"{secret_kind}_file"
        if named not in env:
            raise TargetError(
                f"{head}: environment variable {named!r} is not set; export it, or use {other}"
            )
        secret = env[named]
        if not secret:
            raise TargetError(f"{head}: environment variable {named!r} is empty; set it")
    else:
        try:
            secret = Path(named).expanduser().read_text(encoding="utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise TargetError(
                f"{head}: {named!r} is not UTF-8 text; save the secret as UTF-8"
            ) from None
        except OSError as exc:
            raise TargetError(
                f"{head}: {named!r} cannot be read ({exc.strerror or exc}); "
                f"check the path and its permissions, or use {secret_kind}_env"
            ) from None
        if not secret:
            raise TargetError(f"{head}: {named!r} is empty; write the {secret_kind} into it")
    new_auth = auth.model_copy(update={secret_kind: SecretStr(secret)})
    elasticsearch = target.elasticsearch.model_copy(update={"auth": new_auth})
    return target.model_copy(update={"elasticsearch": elasticsearch})
