"""The CLI's contract: one-line errors, no traceback, and the documented exit codes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chaosgate.cli import main


def test_a_taken_port_names_port_and_part_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(tmp_path))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code = main(["stack", "up", "--port", f"prometheus={port}"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"port {port} (prometheus, used by prometheus) is already in use" in err
    assert "Traceback" not in err


def test_a_bad_port_override_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stack", "up", "--port", "gateway=http"]) == 2
    assert "'http' is not a port number" in capsys.readouterr().err


def test_status_without_a_stack_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CHAOSGATE_STACK_DIR", str(tmp_path))
    assert main(["stack", "status"]) == 1
    assert "no stack is running" in capsys.readouterr().out


def test_validate_a_bad_target_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "staging.yaml"
    target.write_text("gateway_url: ftp://x\ndeadlines: {alerts_s: -1}\n")
    assert main(["validate", "--target", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert str(target) in err
    assert "'ftp://x'" in err or "-1" in err


def test_validate_the_builtin_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert "target 'local': ok" in capsys.readouterr().out


def test_unknown_command_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["nonsense"]) == 2
    assert capsys.readouterr().err == (
        "chaosgate: error: chaosgate: no such command 'nonsense'; see 'chaosgate --help'\n"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "--usres", "3"], "chaosgate run: no such option: --usres"),
        (["run", "--users"], "chaosgate run: option '--users' requires an argument"),
        (["run", "--users", "1e23"], "invalid value for '--users'"),
        (["run", "--dry-run=3"], "chaosgate run: option '--dry-run' does not take a value"),
        (["validate", "extra"], "chaosgate validate: got unexpected extra argument(s) (extra)"),
        (["stack"], "chaosgate stack: missing command"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chaosgate: error: ")
    assert expected in err and f"see 'chaosgate {argv[0]} --help'" in err


def test_a_bad_number_names_the_value_given(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--duration=ten"]) == 2
    assert "(given 'ten')" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["[/x]", ":x:", "http://[zz]:1", "[bold]b[/bold]"])
def test_values_are_printed_literally_never_as_markup(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["target", "show", "--target", value]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"chaosgate: error: target file {value!r}: does not exist; give the path of a target "
        "YAML file, or 'local' or 'local-k8s' for a built-in target\n"
    )


def test_control_characters_and_line_breaks_never_break_the_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", "--profile", "a\nb\x00c\x1b[31m"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "\x00" not in err
    assert "'a\\nb\\x00c\\x1b[31m'" in err


def test_sink_help_documents_its_smtp_receiver(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sink", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "POST /slack or /slack/PATH" in out and "smtp" in out
    assert main(["sink", "smtp", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "[default: 9025]" in out and "--sink-url" in out and "451" in out


def test_sink_smtp_with_a_bad_port_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sink", "smtp", "--port", "mail"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chaosgate: error: chaosgate sink smtp: invalid value for '--port'")
    assert "(given 'mail')" in err and err.count("\n") == 1
