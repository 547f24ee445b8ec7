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
sink:          {url: http://sink.example:9095}
kubernetes:    {context: null, kubeconfig: null, namespaces: [restaurant]}
deadlines:     {traces_s: 30, logs_s: 30, alerts_s: 30}
```

Every field has the local reference stack's value as its default; the built-in target
``local`` is all defaults (:func:`local_target` moves its ports). ``load_target`` reads a file
or the built-in, applies ``CHAOSGATE_*`` environment overrides (the rule is in
:mod:`chaosgate.target_env`), validates, and reads the Elasticsearch credential from the
variable or file the target names. Secrets are never written in a target; once read they are
held as ``SecretStr`` and left out of ``repr``, ``str`` and :meth:`Target.redacted_dict`.
Relative paths (``password_file``, ``kubeconfig``) are relative to the current directory.

Every problem raises :class:`TargetError`: one line naming the source (the file, the
environment variable, or the built-in target), the key path, the bad value and the fix.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn
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
    "BUILTIN_SOURCE",
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
    "Target",
    "TargetError",
    "load_target",
    "local_target",
]

LOCAL_HOST = "127.0.0.1"

DEFAULT_LOCAL_PORTS: Mapping[str, int] = {
    name: DEFAULT_PORTS[name]
    for name in ("gateway", "jaeger_query", "opensearch", "prometheus", "alertmanager", "sink")
}
"""The local stack's ports that the built-in target points at (from the stack's one table)."""

BUILTIN_SOURCE = "built-in target 'local'"
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


class SinkConfig(BaseModel):
    """The webhook sink that records Alertmanager's notifications."""

    model_config = _FROZEN
    url: HttpUrlStr = _local_url("sink")


class KubernetesConfig(BaseModel):
    """The cluster chaos acts on; ``namespaces`` are the only ones it may touch."""

    model_config = _FROZEN
    context: NonEmpty | None = None
    kubeconfig: NonEmpty | None = None
    namespaces: Annotated[tuple[Namespace, ...], AfterValidator(_not_empty)] = ("restaurant",)


class Deadlines(BaseModel):
    """How long, in seconds, a trace, a log line and an alert may take to show up."""

    model_config = _FROZEN
    traces_s: Seconds = 30.0
    logs_s: Seconds = 30.0
    alerts_s: Seconds = 30.0


class Target(BaseModel):
    """One deployed stack: its endpoints, log fields, namespaces and deadlines."""

    model_config = _FROZEN
    name: TargetName = "local"
    gateway_url: HttpUrlStr = _local_url("gateway")
    jaeger: JaegerConfig = Field(default_factory=JaegerConfig)
    elasticsearch: ElasticsearchConfig = Field(default_factory=ElasticsearchConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    alertmanager: AlertmanagerConfig = Field(default_factory=AlertmanagerConfig)
    sink: SinkConfig = Field(default_factory=SinkConfig)
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    deadlines: Deadlines = Field(default_factory=Deadlines)

    def redacted_dict(self) -> dict[str, Any]:
        """JSON-ready fields for reports: credentials left out (only where they come from)."""
        return self.model_dump(mode="json")


# --- loading ---


def local_target(ports: Mapping[str, int] | None = None) -> Target:
    """The built-in target ``local`` on loopback; ``ports`` overrides DEFAULT_LOCAL_PORTS.

    Names other than those of DEFAULT_LOCAL_PORTS are ignored, so the stack's whole port table
    can be passed as it is.
    """
    merged = dict(DEFAULT_LOCAL_PORTS)
    for name in DEFAULT_LOCAL_PORTS:
        if ports is None or name not in ports:
            continue
        port = ports[name]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise TargetError(
                f"{BUILTIN_SOURCE}: ports.{name}: {port!r} is not a port number; "
                "give an integer from 1 to 65535"
            )
        merged[name] = port
    return Target(
        name="local",
        gateway_url=_local_url("gateway", merged),
        jaeger=JaegerConfig(query_url=_local_url("jaeger_query", merged)),
        elasticsearch=ElasticsearchConfig(url=_local_url("opensearch", merged)),
        prometheus=PrometheusConfig(url=_local_url("prometheus", merged)),
        alertmanager=AlertmanagerConfig(url=_local_url("alertmanager", merged)),
        sink=SinkConfig(url=_local_url("sink", merged)),
    )


def load_target(
    spec: str | Path | None,
    *,
    env: Mapping[str, str],
    local_ports: Mapping[str, int] | None = None,
) -> Target:
    """Load a target: ``None`` or ``"local"`` is the built-in one, anything else a YAML path.

    ``env`` (the CLI passes ``os.environ``; it is never read here) supplies the credential
    variables and overrides: ``CHAOSGATE_`` + the field path upper-cased joined by ``__``
    (``CHAOSGATE_GATEWAY_URL``, ``CHAOSGATE_DEADLINES__ALERTS_S``,
    ``CHAOSGATE_KUBERNETES__NAMESPACES=a,b``) beats the file. A ``CHAOSGATE_`` variable that
    looks like a field (has ``__``, or starts with a top-level field's first word) but names
    none is an error; ``CHAOSGATE_PORT_*``, ``CHAOSGATE_STACK_*``, ``CHAOSGATE_HOME`` and
    ``CHAOSGATE_CACHE`` are left to other parts (full rule: :mod:`chaosgate.target_env`).
    ``local_ports`` moves the built-in target's ports (see :func:`local_target`).
    Raises :class:`TargetError` on any problem.
    """
    if spec is None or str(spec) == "local":
        source = BUILTIN_SOURCE
        raw: dict[Any, Any] = local_target(local_ports).redacted_dict()
    else:
        source = f"target file {str(spec)!r}"
        raw = _read_file(Path(spec), source)
        raw.setdefault("name", Path(spec).stem)
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
    return _read_credential(target, env, sources)


def _read_file(path: Path, source: str) -> dict[Any, Any]:
    how = "give the path of a target YAML file, or 'local' for the built-in target"
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
