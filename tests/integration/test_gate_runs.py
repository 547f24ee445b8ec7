"""Whole `chaosgate run` smoke runs against the real local stack: healthy, and with seeded defects.

Each defect must make the run fail (exit 1) with the right check named in summary.json; a check
that passes on a broken stack is the worst bug this project can have. Every defect is undone
in a `finally`, so later tests see a healthy stack.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from refstack.launcher.configs import SERVICES
from refstack.launcher.supervisor import SupervisorClient
from tests.integration.conftest import LocalStack, write_target_file
from tests.integration.support import chaosgate_env
from tests.integration.wheel import InstalledWheel, wheel_env

pytestmark = pytest.mark.integration

RUN_SECONDS = 50  # enough for warm-up load, the kill experiment (~20 s) and a tail


def _run_smoke(
    stack: LocalStack,
    reports: Path,
    extra_env: dict[str, str] | None = None,
    *,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    cwd: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> tuple[int, dict[str, Any]]:
    """A smoke run: the checkout's chaosgate against the session's stack unless ``command``
    (and ``env``, ``cwd``) say otherwise."""
    if env is None:
        env = chaosgate_env(stack.ports, stack.layout.state_dir)
        env.update(extra_env or {})
    proc = subprocess.run(
        [
            *(command or [sys.executable, "-m", "chaosgate", "run"]),
            "--profile", "smoke", "--duration", str(RUN_SECONDS), "--reports", str(reports),
            *extra_args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=cwd,
        check=False,
    )  # fmt: skip
    summaries = sorted(reports.glob("*/summary.json"))
    assert summaries, (
        f"no summary.json written; output:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    summary: dict[str, Any] = json.loads(summaries[-1].read_text())
    print(proc.stdout[-4000:])
    return proc.returncode, summary


def _failed(summary: dict[str, Any]) -> set[str]:
    return set(summary["failed_checks"])


def _files_containing(roots: list[Path], needle: bytes, *, since: float) -> list[Path]:
    """Files under ``roots`` written since ``since`` that contain ``needle``."""
    return [
        path
        for root in roots
        for path in root.rglob("*")
        if path.is_file()
        and not path.is_symlink()
        and path.stat().st_mtime >= since
        and needle in path.read_bytes()
    ]


def test_smoke_run_passes_on_a_healthy_stack(
    local_stack: LocalStack, wheel_chaosgate: InstalledWheel, outside: Path, tmp_path: Path
) -> None:
    """Made as a team would make it: the wheel's chaosgate in its own virtualenv, from a
    directory that is not the checkout, against a target file (tests/integration/wheel.py);
    then ``report`` and ``replay --dry-run`` of its run folder. Also: a credential given
    through the environment (the log store's password; the local OpenSearch ignores it)
    appears in no report, ledger, journal or log the run writes."""
    canary = f"canary-{secrets.token_hex(8)}"
    state = tmp_path / "state"
    reports = tmp_path / "reports"
    target = write_target_file(
        tmp_path / "target.json", chaosgate_env(local_stack.ports, local_stack.layout.state_dir)
    )
    env = wheel_env(
        os.environ,
        {
            "CHAOSGATE_ELASTICSEARCH__AUTH__USERNAME": "chaosgate",
            "CHAOSGATE_ELASTICSEARCH__AUTH__PASSWORD_ENV": "CANARY_ES_PASSWORD",
            "CANARY_ES_PASSWORD": canary,
            "CHAOSGATE_STATE_DIR": str(state),
            # the local chaos drivers find the stack's process manager through its state
            "CHAOSGATE_STACK_DIR": str(local_stack.layout.state_dir),
        },
    )
    started = time.time()
    code, summary = _run_smoke(
        local_stack,
        reports,
        env=env,
        command=[str(wheel_chaosgate.chaosgate), "run", "--target", str(target)],
        cwd=outside,
    )
    assert (code, summary["verdict"]) == (0, "passed"), summary["failed_checks"]
    assert summary["settings"]["target"]["elasticsearch"]["auth"]["username"] == "chaosgate"
    layout = local_stack.layout
    leaks = _files_containing(
        [tmp_path / "reports", state, layout.log_dir, layout.service_log_dir],
        canary.encode(),
        since=started,
    )
    assert leaks == [], f"the credential was written to {leaks}"
    tmp_path = tmp_path / "reports"
    names = {check["name"] for check in summary["checks"]}
    assert {"traces.completeness", "logs.trace_id.completeness", "alerts.noise"} <= names
    assert any(
        name.startswith("alert.UsersServiceDown") and name.endswith(".fired") for name in names
    )
    artifacts = tmp_path / summary["run_id"]
    assert (artifacts / "junit.xml").is_file()
    assert list((artifacts / "allure-results").glob("*-result.json"))
    assert list((artifacts / "ledger").glob("ledger-*.jsonl"))
    assert list((artifacts / "chaos").glob("*.journal.json"))
    assert summary["load"]["requests"] > 100
    # the installed chaosgate reads its own run folder back
    (artifacts / "report.html").unlink()
    report = subprocess.run([str(wheel_chaosgate.chaosgate), "report", str(artifacts)],
                            cwd=outside, env=env, capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert report.returncode == 0, report.stdout + report.stderr
    assert (artifacts / "report.html").is_file()
    replay = subprocess.run([str(wheel_chaosgate.chaosgate), "replay", str(artifacts),
                             "--dry-run", "--target", str(target)],
                            cwd=outside, env=env, capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "kill-users" in replay.stdout


@contextmanager
def _faults_on(stack: LocalStack, body: dict[str, Any]) -> Iterator[None]:
    with httpx.Client(timeout=5.0) as http:
        try:
            for service in SERVICES:
                http.put(f"{stack.urls[service]}/admin/faults", json=body).raise_for_status()
            yield
        finally:
            for service in SERVICES:
                http.delete(f"{stack.urls[service]}/admin/faults").raise_for_status()


# the seeded defects fail the same way after any deadline: 10 s instead of 30 s keeps each of
# these runs a minute shorter
SHORT_DEADLINES = {"CHAOSGATE_DEADLINES__TRACES_S": "10", "CHAOSGATE_DEADLINES__LOGS_S": "10"}


# a team's own checks (checks/examples) in the same runs: each example fails under its own
# seeded defect and passes in the run whose defect is not its concern
TEAM_CHECKS = ("--checks", str(Path(__file__).resolve().parents[2] / "checks" / "examples"))
ORDER_SPANS = (
    "checks.test_order_traces.py::test_placed_orders_have_an_orders_span_and_a_database_span"
)
IOT_LOG_FIELD = (
    "checks.test_iot_logs.py::test_each_telemetry_request_is_logged_by_iot_with_its_device"
)
ALERT_LABELS = (
    "checks.test_alert_labels.py::test_alerts_sent_to_the_webhook_carry_severity_and_an_owner"
)


def _statuses(summary: dict[str, Any], *names: str) -> dict[str, str]:
    found = {c["name"]: c["status"] for c in summary["checks"] if c["name"] in names}
    assert found.keys() == set(names), [c["name"] for c in summary["checks"]]
    return found


def test_spans_not_exported_fail_the_trace_check(local_stack: LocalStack, tmp_path: Path) -> None:
    """Also seeded: UsersServiceDown without its service label, for the alert-label example."""
    with (
        _faults_on(local_stack, {"drop_spans": True}),
        _rules_changed(local_stack, "UsersServiceDown", "unlabel"),
    ):
        code, summary = _run_smoke(local_stack, tmp_path, SHORT_DEADLINES, extra_args=TEAM_CHECKS)
    assert code == 1
    assert "traces.completeness" in _failed(summary)
    assert not any(name.startswith("logs.") for name in _failed(summary))
    assert _statuses(summary, ORDER_SPANS, ALERT_LABELS, IOT_LOG_FIELD) == {
        ORDER_SPANS: "failed",
        ALERT_LABELS: "failed",
        IOT_LOG_FIELD: "passed",
    }


def test_a_stopped_log_shipper_fails_the_log_check(local_stack: LocalStack, tmp_path: Path) -> None:
    supervisor = SupervisorClient(local_stack.layout.supervisor_socket)
    supervisor.stop("rsyslog")
    try:
        code, summary = _run_smoke(local_stack, tmp_path, SHORT_DEADLINES, extra_args=TEAM_CHECKS)
    finally:
        supervisor.start("rsyslog")
    assert code == 1
    assert "logs.trace_id.completeness" in _failed(summary)
    assert "traces.completeness" not in _failed(summary)
    assert _statuses(summary, ORDER_SPANS, ALERT_LABELS, IOT_LOG_FIELD) == {
        ORDER_SPANS: "passed",
        ALERT_LABELS: "passed",
        IOT_LOG_FIELD: "failed",
    }


@contextmanager
def _rules_changed(stack: LocalStack, alert: str, change: str) -> Iterator[None]:
    """Edit the rule of ``alert`` in the rules Prometheus loads ("remove", "slow", or "unlabel":
    without its service label, so that it names no owner: its severity still routes it to the
    on-call webhook), reload."""
    rules_file = stack.layout.config_dir / "rules.yml"
    original = rules_file.read_text()
    rules = yaml.safe_load(original)
    for group in rules["groups"]:
        if change == "remove":
            group["rules"] = [r for r in group["rules"] if r.get("alert") != alert]
        else:
            for rule in group["rules"]:
                if rule.get("alert") == alert and change == "unlabel":
                    del rule["labels"]["service"]
                elif rule.get("alert") == alert:
                    rule["for"] = "35s"  # fires, if ever, after the 30 s deadline
    prometheus = stack.urls["prometheus"]
    with httpx.Client(timeout=10.0) as http:
        try:
            rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))
            http.post(f"{prometheus}/-/reload").raise_for_status()
            loaded = http.get(f"{prometheus}/api/v1/rules").json()["data"]["groups"]
            found = [r for g in loaded for r in g["rules"] if r.get("name") == alert]
            if change == "remove":
                assert found == [], "the rule is still loaded: the defect was not seeded"
            elif change == "unlabel":
                assert found and "service" not in found[0]["labels"], "the label is still set"
            else:
                assert found and found[0]["duration"] == 35, "the slow rule was not loaded"
            yield
        finally:
            rules_file.write_text(original)
            http.post(f"{prometheus}/-/reload").raise_for_status()


def _fired_check(summary: dict[str, Any], alert: str) -> dict[str, Any]:
    fired: list[dict[str, Any]] = [
        c
        for c in summary["checks"]
        if c["name"].startswith(f"alert.{alert}") and c["name"].endswith(".fired")
    ]
    assert len(fired) == 1, [c["name"] for c in summary["checks"]]
    return fired[0]


@pytest.mark.long  # scripts/test proves a removed rule by alerts.coverage (test_alerting_runs)
def test_a_removed_alert_rule_fails_the_alert_check(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    with _rules_changed(local_stack, "UsersServiceDown", "remove"):
        code, summary = _run_smoke(local_stack, tmp_path)
    assert code == 1
    assert _fired_check(summary, "UsersServiceDown")["status"] == "failed"
