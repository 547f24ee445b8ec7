"""Reading what a target names: its YAML file, and the Elasticsearch credential from the
environment variable or file its ``elasticsearch.auth`` names."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from chaosgate.target_env import Sources, quote, source_of
from chaosgate.target_models import CREDENTIAL_REFS, Target, TargetError

__all__ = ["read_credential", "read_target_file"]


def read_target_file(path: Path, source: str) -> dict[Any, Any]:
    """The mapping at the top of the YAML file ``path``; ``source`` names it in errors."""
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
