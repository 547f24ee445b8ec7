"""`chaosgate replay` without a stack: bad input is one line and exit 2, --dry-run prints
what would be replayed and acts on nothing, and --web runs Locust with its web UI that
starts and ends by itself, its stats and ledger written as in headless mode."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import httpx
import pytest

from chaosgate.cli import main
from chaosgate.request_ledger import read_ledger
from chaosgate.run import load
from chaosgate.run.load import WEB_HOST, locust_command, start_load
from chaosgate.run.profiles import resolve_profile
from tests.support.waiting import wait_until
from tests.unit.run.test_replay_plan import RUN_ID, recorded_run


@pytest.fixture(autouse=True)
def own_fault_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pending-fault check reads this test's own (empty) fault ledger."""
    monkeypatch.setenv("CHAOSGATE_STATE_DIR", str(tmp_path / "state"))


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("chaosgate: error: ")
    return lines[0]


def test_faults_only_and_load_only_together_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = recorded_run(tmp_path / "reports")
    assert main(["replay", str(run_dir), "--faults-only", "--load-only"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert "--faults-only and --load-only exclude each other" in line
    assert "chaosgate replay --help" in line


def test_a_changed_experiment_copy_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = recorded_run(tmp_path / "reports")
    copy = next((run_dir / "experiments").glob("01-*.json"))
    copy.write_bytes(copy.read_bytes() + b"\n")
    assert main(["replay", str(run_dir), "--dry-run"]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert str(copy) in line and "changed after the run" in line


def test_no_run_folder_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(tmp_path / "nothing")]) == 2
    assert "does not exist" in _one_error_line(capsys.readouterr().err)


def test_a_recorded_target_file_must_be_given_again_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = recorded_run(tmp_path / "reports")
    summary_path = run_dir / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["replay"]["target"]["name"] = "staging"
    summary_path.write_text(json.dumps(summary))
    assert main(["replay", str(run_dir), "--dry-run"]) == 2
    assert "give it with --target FILE" in _one_error_line(capsys.readouterr().err)


def test_dry_run_prints_the_schedule_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    run_dir = recorded_run(reports)
    assert main(["replay", str(run_dir), "--dry-run", "--web"]) == 0
    out = capsys.readouterr().out
    assert f"replay of {RUN_ID} ({run_dir.resolve()}), full" in out
    assert "load as recorded: seed 42, 7 users" in out
    assert "Locust's web UI on a free local port" in out
    assert "00 kill-users-service: start +20.00 s, inject +20.46 s" in out
    assert "01 gateway-error-ratio: start +61.50 s, inject +62.12 s" in out
    assert "02 iot-error-ratio: did not start in the recorded run: skipped" in out
    assert sorted(path.name for path in reports.iterdir()) == [RUN_ID]


def test_dry_run_faults_only_says_no_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = recorded_run(tmp_path / "reports")
    assert main(["replay", str(run_dir), "--dry-run", "--faults-only", "-t", "local"]) == 0
    out = capsys.readouterr().out
    assert "faults-only" in out and "no load: the offsets count from the start" in out


def test_the_web_command_keeps_its_ui_local_and_ends_by_itself(tmp_path: Path) -> None:
    profile = resolve_profile("smoke", users=3, duration_s=40)
    headless = locust_command(profile, "http://gw:8080", tmp_path / "locust")
    web = locust_command(profile, "http://gw:8080", tmp_path / "locust", web_port=18089)
    assert "--headless" in headless and "--autostart" not in headless
    assert "--headless" not in web
    mode = web[web.index("--autostart") :][:7]
    autoquit = str(load.WEB_AUTOQUIT_S)
    assert mode == [
        "--autostart",
        "--autoquit",
        autoquit,
        "--web-host",
        "127.0.0.1",
        "--web-port",
        "18089",
    ]
    # the rest is the headless command's: users, spawn rate, run time, stats files, scenarios
    assert [arg for arg in web if arg not in mode] == [
        arg for arg in headless if arg != "--headless"
    ]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.processes
def test_locust_with_its_web_ui_runs_its_time_writes_its_stats_and_quits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load, "WEB_AUTOQUIT_S", 1)
    profile = resolve_profile("smoke", users=2, duration_s=10, scenarios=["KitchenStaff"])
    nobody = f"http://127.0.0.1:{_closed_port()}"  # every request fails: still a request
    process = start_load(profile, nobody, tmp_path, run_id="web-test", web=True)
    try:
        assert process.web_url is not None and process.web_url.startswith(f"http://{WEB_HOST}:")
        web_url = process.web_url
        locust_log = tmp_path / "locust" / "locust.log"
        answered = wait_until(
            lambda: httpx.get(web_url, timeout=1).status_code,
            timeout_s=8,
            interval_s=0.2,
            ignoring=(httpx.TransportError,),
            message=lambda: f"Locust's web UI; its log: {locust_log.read_text()}",
        )
        assert answered == 200, locust_log.read_text()
        result = process.wait(timeout_s=40)  # it ends by itself: run time + autoquit
    finally:
        process.end(grace_s=2)
    assert result.exit_code == 0, result.log.read_text()
    assert result.stats_csv.is_file()
    stats = json.loads((tmp_path / "locust" / "locust.json").read_text())
    assert sum(entry["num_requests"] for entry in stats) > 0
    assert read_ledger(tmp_path / "ledger")


def _dead_target(tmp_path: Path) -> Path:
    dead = f"http://127.0.0.1:{_closed_port()}"
    path = tmp_path / "dead.yaml"
    parts = [
        f"{name}: {{{key}: {dead}}}"
        for name, key in (
            ("jaeger", "query_url"),
            ("elasticsearch", "url"),
            ("prometheus", "url"),
            ("alertmanager", "url"),
            ("sink", "url"),
        )
    ]
    path.write_text("\n".join([f"gateway_url: {dead}", "chaos: local", *parts]))
    return path


def test_a_replay_is_a_new_run_naming_the_original_and_ends_with_the_comparison(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = tmp_path / "reports"
    run_dir = recorded_run(reports)
    code = main(["replay", str(run_dir), "--target", str(_dead_target(tmp_path))])
    out = capsys.readouterr().out
    assert code == 3  # the target is not healthy enough to test: nothing was played
    (new_dir,) = [path for path in reports.iterdir() if path.name != RUN_ID]
    summary = json.loads((new_dir / "summary.json").read_text())
    assert summary["verdict"] == "unhealthy"
    assert summary["replay"]["replay_of"] == {
        "run_id": RUN_ID,
        "run_dir": str(run_dir.resolve()),
        "mode": "full",
    }
    recorded = json.loads((run_dir / "summary.json").read_text())["replay"]
    assert [c["sha256"] for c in summary["replay"]["experiments"]] == [
        c["sha256"] for c in recorded["experiments"]
    ]
    assert [Path(c["original"]).name for c in summary["replay"]["experiments"]] == [
        "kill-users-service.json",
        "gateway-error-ratio.json",
        "iot-error-ratio.json",
    ]
    # the comparison closes the output, and its page is in the new run's folder
    assert f"compare-{RUN_ID}.html" in out.splitlines()[-1]
    assert (new_dir / f"compare-{RUN_ID}.html").is_file()
    assert "then (A)" in out and "verdict" in out
