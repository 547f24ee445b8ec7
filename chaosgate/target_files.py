"""Reading what a target names: its YAML file, and the Elasticsearch credentials from the
environment variable or file its ``elasticsearch.auth`` (and ``jaeger.span_store.auth``)
names."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from chaosgate.input_files import InputFileError, read_input_text
from chaosgate.safe_yaml import YamlError, load_yaml
from chaosgate.target_env import Sources, quote, source_of
from chaosgate.target_models import CREDENTIAL_REFS, ElasticsearchAuth, Target, TargetError

__all__ = ["read_credential", "read_target_file"]


def read_target_file(path: str | Path, source: str) -> dict[Any, Any]:
    """The mapping at the top of the YAML file ``path``; ``source`` names it in errors.

    The file is read without blocking and at most MAX_INPUT_BYTES of it
    (:func:`read_input_text`), and parsed with the bounded loader (:func:`load_yaml`)."""
    how = "give the path of a target YAML file, or 'local' or 'local-k8s' for a built-in target"
    if not str(path):
        raise TargetError(f"{source}: is an empty path; {how}")
    try:
        text = read_input_text(path)
    except InputFileError as exc:
        raise TargetError(f"{source}: {exc.message(how)}") from None
    try:
        data = load_yaml(text)
    except YamlError as exc:
        raise TargetError(f"{source}: {exc}") from None
    example = "write 'key: value' lines such as 'gateway_url: http://host:8080'"
    if data is None:
        raise TargetError(f"{source}: is empty; {example}")
    if not isinstance(data, dict):
        raise TargetError(f"{source}: the top level is {quote(data)}, not a mapping; {example}")
    return data


def read_credential(target: Target, env: Mapping[str, str], sources: Sources) -> Target:
    """Fill in the credentials (``elasticsearch.auth``, ``jaeger.span_store.auth``) from the
    variable or file each names."""
    auth = _read_auth(target.elasticsearch.auth, ("elasticsearch", "auth"), env, sources)
    target = target.model_copy(
        update={"elasticsearch": target.elasticsearch.model_copy(update={"auth": auth})}
    )
    span = target.jaeger.span_store
    if span is None:
        return target
    span_auth = _read_auth(span.auth, ("jaeger", "span_store", "auth"), env, sources)
    jaeger = target.jaeger.model_copy(
        update={"span_store": span.model_copy(update={"auth": span_auth})}
    )
    return target.model_copy(update={"jaeger": jaeger})


def _read_auth(
    auth: ElasticsearchAuth | None,
    path: tuple[str, ...],
    env: Mapping[str, str],
    sources: Sources,
) -> ElasticsearchAuth | None:
    if auth is None or auth.password is not None or auth.api_key is not None:
        return auth
    ref = next(name for name in CREDENTIAL_REFS if getattr(auth, name) is not None)
    named: str = getattr(auth, ref)
    head = f"{source_of(sources, (*path, ref))}: {'.'.join(path)}.{ref}"
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
            secret = read_input_text(Path(named).expanduser()).rstrip("\r\n")
        except InputFileError as exc:
            raise TargetError(
                f"{head}: {named!r} {exc.message()}, or use {secret_kind}_env"
            ) from None
        if not secret:
            raise TargetError(f"{head}: {named!r} is empty; write the {secret_kind} into it")
    return auth.model_copy(update={secret_kind: SecretStr(secret)})
