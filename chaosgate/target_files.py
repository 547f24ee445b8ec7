"""Reading what a target names: its YAML file, and the Elasticsearch credential from the
environment variable or file its ``elasticsearch.auth`` names."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from chaosgate.input_files import InputFileError, read_input_text
from chaosgate.safe_yaml import YamlError, load_yaml
from chaosgate.target_env import Sources, quote, source_of
from chaosgate.target_models import CREDENTIAL_REFS, Target, TargetError

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
    """Fill in the Elasticsearch credential from the variable or file the target names."""
    auth = target.elasticsearch.auth
    if auth is None or auth.password is not None or auth.api_key is not None:
        return target
    ref = next(name for name in CREDENTIAL_REFS if getattr(auth, name) is not None)
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
            secret = read_input_text(Path(named).expanduser()).rstrip("\r\n")
        except InputFileError as exc:
            raise TargetError(
                f"{head}: {named!r} {exc.message()}, or use {secret_kind}_env"
            ) from None
        if not secret:
            raise TargetError(f"{head}: {named!r} is empty; write the {secret_kind} into it")
    new_auth = auth.model_copy(update={secret_kind: SecretStr(secret)})
    elasticsearch = target.elasticsearch.model_copy(update={"auth": new_auth})
    return target.model_copy(update={"elasticsearch": elasticsearch})
