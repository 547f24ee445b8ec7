"""The receivers' token: generated 0600 and random, read from a file (bounded, never
blocking) or the environment, and never shown."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chaosgate.receivers.credential import (
    MAX_TOKEN_FILE_BYTES,
    TOKEN_ENV,
    CredentialError,
    load_credential,
    read_token_file,
    write_token_file,
)

TOKEN = "s3cr3t-token-of-some-length"


def test_a_generated_token_file_is_private_random_and_has_no_newline(tmp_path: Path) -> None:
    first = write_token_file(tmp_path / "run" / "sink-token")
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    text = first.read_text()
    assert len(text) >= 32 and text == text.strip()
    write_token_file(first)  # every `stack up` makes a new one
    assert first.read_text() != text
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    assert [p.name for p in first.parent.iterdir()] == ["sink-token"]  # no temporary left


def test_an_existing_readable_file_is_replaced_by_a_private_one(tmp_path: Path) -> None:
    path = tmp_path / "sink-token"
    path.write_text("old")
    path.chmod(0o644)
    write_token_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_token_is_read_from_the_file_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")  # Kubernetes Secrets and editors often end in a newline
    credential = read_token_file(path)
    assert credential.matches(TOKEN) and credential.matches(TOKEN + "\r\n")
    assert not credential.matches(TOKEN[:-1]) and not credential.matches(TOKEN + "x")
    assert credential.bearer() == f"Bearer {TOKEN}"
    assert credential.source == f"token file {str(path)!r}"


def test_the_file_wins_over_the_environment_which_is_the_fallback(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(TOKEN)
    other = "another-token-from-the-environment"
    assert load_credential(path, {TOKEN_ENV: other}).matches(TOKEN)
    from_env = load_credential(None, {TOKEN_ENV: other})
    assert from_env.matches(other)
    assert from_env.source == f"environment variable {TOKEN_ENV}"


def test_the_token_is_in_no_repr_str_or_message(tmp_path: Path) -> None:
    credential = load_credential(None, {TOKEN_ENV: TOKEN})
    assert TOKEN not in repr(credential) and TOKEN not in str(credential)
    short = tmp_path / "short"
    short.write_text("tiny-secret")
    with pytest.raises(CredentialError) as error:
        read_token_file(short)
    assert "tiny-secret" not in str(error.value)
    assert "11 characters, fewer than 16" in str(error.value)


def test_no_credential_says_how_to_give_one() -> None:
    with pytest.raises(CredentialError, match=f"give --token-file FILE or set {TOKEN_ENV}"):
        load_credential(None, {})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "has 0 characters"),
        ("short", "has 5 characters"),
        ("with a space inside it, long enough", "holds a space, a control or a non-ASCII"),
        ("tökenwithumlautlongenough", "holds a space, a control or a non-ASCII"),
    ],
    ids=["empty", "short", "space", "non-ascii"],
)
def test_a_token_unfit_for_a_header_is_refused(value: str, message: str) -> None:
    with pytest.raises(CredentialError, match=message):
        load_credential(None, {TOKEN_ENV: value})


def test_a_missing_file_names_itself_and_the_fallback(tmp_path: Path) -> None:
    with pytest.raises(CredentialError) as error:
        read_token_file(tmp_path / "nope")
    assert str(error.value) == (
        f"cannot open the token file {str(tmp_path / 'nope')!r}: No such file or directory; "
        f"give an existing file with --token-file or set {TOKEN_ENV}"
    )


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(CredentialError, match="is not a regular file"):
        read_token_file(fifo)


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(path: str) -> None:
    with pytest.raises(CredentialError, match="is not a regular file"):
        read_token_file(Path(path))


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CredentialError, match=r"cannot open|is not a regular file"):
        read_token_file(tmp_path)


def test_a_large_file_is_refused_after_a_bounded_read(tmp_path: Path) -> None:
    big = tmp_path / "big"
    big.write_bytes(b"a" * (MAX_TOKEN_FILE_BYTES + 1))
    with pytest.raises(CredentialError, match=f"larger than {MAX_TOKEN_FILE_BYTES} bytes"):
        read_token_file(big)


def test_a_binary_file_is_refused(tmp_path: Path) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff" * 32)
    with pytest.raises(CredentialError, match="is not ASCII text"):
        read_token_file(binary)
