from __future__ import annotations

from pathlib import Path

import pytest

from refstack.proxy.__main__ import main


def test_a_missing_config_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(tmp_path / "absent.yaml")]) == 2
    error = capsys.readouterr().err
    assert "absent.yaml" in error and "cannot be read" in error


def test_an_unusable_kubeconfig_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "node.yaml"
    config.write_text(
        f"kubeconfig: {tmp_path / 'missing.kubeconfig'}\n"
        f"state_dir: {tmp_path}\ncontainer_log_dir: {tmp_path}\n"
    )
    assert main(["--config", str(config)]) == 2
    error = capsys.readouterr().err
    assert f"kubeconfig '{tmp_path / 'missing.kubeconfig'}'" in error
    assert "fix its `kubeconfig`" in error
