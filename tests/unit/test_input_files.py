"""Reading user-named files: regular files only, never blocking, never more than the bound;
YAML bounded in depth and alias expansion."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaosgate.input_files import MAX_INPUT_BYTES, InputFileError, read_input_text
from chaosgate.safe_yaml import MAX_YAML_DEPTH, MAX_YAML_NODES, YamlError, load_yaml


def reason(path: str | Path, **kwargs: int) -> str:
    with pytest.raises(InputFileError) as info:
        read_input_text(path, **kwargs)
    return str(info.value)


def test_reads_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("name: café\n", encoding="utf-8")
    assert read_input_text(path) == "name: café\n"


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert (
        reason(fifo)
        == "is a FIFO (named pipe), not a regular file; give the path of a regular file"
    )


@pytest.mark.timeout(10)
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_is_refused(device: str) -> None:
    assert reason(device).startswith("is a character device, not a regular file; ")


def test_a_directory_an_empty_path_a_nul_and_a_missing_file(tmp_path: Path) -> None:
    assert reason(tmp_path).startswith("is a directory, not a regular file; ")
    assert reason("") == "is an empty path; give the path of a regular file"
    assert reason("a\x00b").startswith("has a NUL character in its path; ")
    assert reason(tmp_path / "nope").startswith("does not exist; ")
    assert reason(tmp_path / "nope" / "deeper").startswith("does not exist; ")


def test_a_file_over_the_bound_is_refused_naming_the_bound(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)
    assert reason(big) == (
        f"is {MAX_INPUT_BYTES + 1} bytes, more than the 1 MiB an input file may hold; "
        "give a smaller file"
    )
    exact = tmp_path / "exact.json"
    exact.write_bytes(b"x" * 100)
    assert read_input_text(exact, limit=100) == "x" * 100
    assert "more than the 99 bytes" in reason(exact, limit=99)


def test_not_utf8_names_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"ab\xe9")
    assert reason(path) == "is not UTF-8 text (byte 2 is not); save it as UTF-8"


def test_a_file_that_fails_to_read_is_an_error() -> None:
    # /proc/self/mem is a regular file by stat, and reading it from offset 0 fails (EIO)
    assert reason("/proc/self/mem").startswith("cannot be read (Input/output error); ")


def yaml_error(text: str) -> str:
    with pytest.raises(YamlError) as info:
        load_yaml(text)
    return str(info.value)


def test_plain_yaml_loads() -> None:
    assert load_yaml("a: &x [1, 2]\nb: *x\nc: {<<: {d: 1}}\n") == {
        "a": [1, 2],
        "b": [1, 2],
        "c": {"d": 1},
    }
    assert load_yaml("") is None


@pytest.mark.parametrize("flow", [True, False])
def test_deep_nesting_is_refused_naming_the_bound(flow: bool) -> None:
    if flow:
        text = "a: " + "[" * 1000 + "]" * 1000 + "\n"
    else:
        text = "".join("  " * i + f"k{i}:\n" for i in range(1000)) + "  " * 1000 + "v\n"
    message = yaml_error(text)
    assert message.startswith("line ") and f"nested more than {MAX_YAML_DEPTH} levels" in message
    assert load_yaml("a: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1)) is not None


@pytest.mark.parametrize(
    "text", ["a: &a [*a]\n", "kubernetes: &a {namespaces: *a}\n", "&a {b: [{c: *a}]}\n"]
)
def test_a_recursive_alias_is_refused(text: str) -> None:
    assert "refers to the value that contains it (a recursive document)" in yaml_error(text)


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]" for i in range(8)
    ]
    message = yaml_error("\n".join(lines) + "\n")
    assert f"more than {MAX_YAML_NODES} values once its aliases are expanded" in message


def test_a_syntax_error_names_line_and_column() -> None:
    assert yaml_error("a: b\n c: d\n").startswith("line 2, column 3: invalid YAML")
    assert yaml_error("a: \x00").startswith("invalid YAML (unacceptable character")
