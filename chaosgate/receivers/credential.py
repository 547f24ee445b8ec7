"""The shared secret that only Alertmanager holds: what makes a delivery count.

Alertmanager authenticates every delivery to the receivers with one token:

- webhook and Slack: its ``http_config`` sends ``Authorization: Bearer <token>``
  (``authorization: {type: Bearer, credentials_file: FILE}``);
- email: SMTP AUTH (PLAIN or LOGIN) as :data:`SMTP_USERNAME` with the token as password
  (``auth_username`` / ``auth_password_file``);
- the SMTP receiver sends it as a bearer token when it hands a mail to the HTTP sink.

The token comes from a file (``--token-file``; the local stack generates one at every
``stack up``, :func:`write_token_file`) or else from the environment variable
:data:`TOKEN_ENV`. It is never printed: :class:`Credential` hides it from ``repr`` and every
message names only where it came from.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MAX_TOKEN_FILE_BYTES",
    "MIN_TOKEN_LENGTH",
    "SMTP_USERNAME",
    "TOKEN_ENV",
    "Credential",
    "CredentialError",
    "generate_token",
    "load_credential",
    "read_token_file",
    "write_token_file",
]

TOKEN_ENV = "NOTIFICATION_SINK_TOKEN"
SMTP_USERNAME = "alertmanager"
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_FILE_BYTES = 4096
_HOW_TO_MAKE = (
    "python3 -c 'import secrets; print(secrets.token_urlsafe(32), end=\"\")' > FILE; chmod 600 FILE"
)


class CredentialError(Exception):
    """No usable credential; the message names where it was looked for, never its value."""


@dataclass(frozen=True)
class Credential:
    """The receivers' token and where it came from (``source``, safe to print)."""

    source: str
    _token: str = field(repr=False)

    def matches(self, candidate: str | bytes) -> bool:
        """Whether ``candidate`` is the token (constant time; surrounding whitespace, which
        Alertmanager sends from a password file ending in a newline, is ignored)."""
        given = candidate if isinstance(candidate, bytes) else candidate.encode("utf-8", "replace")
        return hmac.compare_digest(given.strip(), self._token.encode())

    def bearer(self) -> str:
        """The ``Authorization`` header value a delivery carries."""
        return f"Bearer {self._token}"


def _checked(token: str, source: str) -> Credential:
    token = token.strip()
    if len(token) < MIN_TOKEN_LENGTH:
        raise CredentialError(
            f"the receivers' token from {source} has {len(token)} characters, fewer than "
            f"{MIN_TOKEN_LENGTH}; make a random one: {_HOW_TO_MAKE}"
        )
    if not all("!" <= char <= "~" for char in token):
        raise CredentialError(
            f"the receivers' token from {source} holds a space, a control or a non-ASCII "
            f"character (it travels in an HTTP header and in SMTP AUTH); make one: {_HOW_TO_MAKE}"
        )
    return Credential(source=source, _token=token)


def read_token_file(path: Path) -> Credential:
    """The token in ``path``: a regular file of at most :data:`MAX_TOKEN_FILE_BYTES`, opened
    without blocking (a FIFO or a device is refused, not waited on)."""
    source = f"token file {str(path)!r}"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise CredentialError(
            f"cannot open the {source}: {exc.strerror}; give an existing file with "
            f"--token-file or set {TOKEN_ENV}"
        ) from exc
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise CredentialError(f"the {source} is not a regular file; give a file that is")
        data = b""
        while len(data) <= MAX_TOKEN_FILE_BYTES:
            chunk = os.read(fd, MAX_TOKEN_FILE_BYTES + 1 - len(data))
            if not chunk:
                break
            data += chunk
    finally:
        os.close(fd)
    if len(data) > MAX_TOKEN_FILE_BYTES:
        raise CredentialError(
            f"the {source} is larger than {MAX_TOKEN_FILE_BYTES} bytes; it must hold the token only"
        )
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as exc:
        raise CredentialError(
            f"the {source} is not ASCII text; it must hold the token only ({_HOW_TO_MAKE})"
        ) from exc
    return _checked(text, source)


def load_credential(token_file: Path | None, env: Mapping[str, str]) -> Credential:
    """The token from ``token_file`` if given, else from :data:`TOKEN_ENV` in ``env``."""
    if token_file is not None:
        return read_token_file(token_file)
    value = env.get(TOKEN_ENV)
    if value is None:
        raise CredentialError(
            "the receivers need the token Alertmanager authenticates with: give --token-file "
            f"FILE or set {TOKEN_ENV} (make one: {_HOW_TO_MAKE})"
        )
    return _checked(value, f"environment variable {TOKEN_ENV}")


def generate_token() -> str:
    """A fresh random token (32 bytes, URL-safe base64: no whitespace, no quoting needed)."""
    return secrets.token_urlsafe(32)


def write_token_file(path: Path) -> Path:
    """Write a fresh token to ``path`` (mode 0600, no trailing newline: Alertmanager sends a
    password file's bytes as they are), replacing any older one atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(generate_token())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
