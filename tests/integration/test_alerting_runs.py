"""Every alerting promise on the real local stack: each rule's fault fires its alert in time and
reaches every receiver its route names (webhook, Slack-compatible, SMTP), inhibition holds, and
seeded defects fail the right check (a stopped SMTP server, a removed inhibit rule).

The runs are whole ``chaosgate run`` processes against the session's stack; every defect is
undone in a ``finally``. Figures are printed as ``[figure]`` lines.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chaosgate.chaos.experiments import chaosgate_extension, load_experiment
from chaosgate.run.profiles import EXPERIMENT_DIRS, GATE_RULES, PROFILES
from refstack.launcher.supervisor import SupervisorClient
from tests.integration.conftest import LocalStack
from tests.integration.support import chaosgate_env
from tests.integration.test_gate_runs import _rules_changed
from tests.report_browser import view_run_report
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

LOCAL = EXPERIMENT_DIRS["local"]
CRITICAL_RECEIVERS = ("webhook", "slack", "email")  # the oncall route
WARNING_RECEIVERS = ("slack",)  # the team-slack route


def _run(stack: LocalStack, reports: Path, *args: str, timeout_s: float) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "chaosgate", "run", "--reports", str(reports), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=chaosgate_env(stack.ports, stack.layout.state_dir),
        check=False,
    )
    print(proc.stdout[-6000:])
    summaries = sorted(reports.glob("*/summary.json"))
    assert summaries, f"no summary.json; output:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    summary: dict[str, Any] = json.loads(summaries[-1].read_text())
    summary["_exit_code"] = proc.returncode
    return summary


def _checks(summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in summary["checks"]}


def _expected(path: Path) -> list[tuple[str, str]]:
    """(title prefix ``alert.<Name>{...}``, severity) of each alert the experiment expects."""
    extension = chaosgate_extension(load_experiment(path), source=str(path))
    out = []
    for alert in extension.expected_alerts:
        pairs = [f"{k}={v}" for k, v in sorted(alert.labels.items())]
        pairs += [f"{k}=~{v}" for k, v in sorted(alert.label_patterns.items())]
        title = f"{alert.alertname}{{{','.join(pairs)}}}" if pairs else alert.alertname
        out.append((f"alert.{title}", alert.labels.get("severity", "")))
    return out


def _assert_proved(
    checks: dict[str, dict[str, Any]], experiments: Sequence[Path], *, resolved: bool = True
) -> None:
    """Each expected alert fired in time and reached every receiver of its route."""
    for path in experiments:
        assert checks[f"chaos.{path.stem}"]["status"] == "passed", checks[f"chaos.{path.stem}"]
        for prefix, severity in _expected(path):
            receivers = CRITICAL_RECEIVERS if severity == "critical" else WARNING_RECEIVERS
            suffixes = ["fired", *(f"notified.{r}" for r in receivers)]
            suffixes += ["resolved"] if resolved else []
            for suffix in suffixes:
                check = checks.get(f"{prefix}.{suffix}")
                assert check is not None, (f"{prefix}.{suffix}", sorted(checks))
                assert check["status"] == "passed", check
                if suffix != "resolved":
                    print(f"[figure] {path.stem}: {prefix[6:]} {suffix} {check['latency_s']} s")
            # the route decides: a warning never reaches on-call's mail
            if severity == "warning":
                assert f"{prefix}.notified.email" not in checks


@pytest.mark.timeout(1200)
def test_the_gate_proves_every_critical_rule_through_every_receiver(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    summary = _run(local_stack, tmp_path, "--profile", "gate", timeout_s=1200)
    checks = _checks(summary)
    assert (summary["_exit_code"], summary["verdict"]) == (0, "passed"), summary["failed_checks"]
    _assert_proved(checks, PROFILES["gate"].experiment_paths())
    coverage = checks["alerts.coverage"]["observed"]
    assert set(GATE_RULES) <= set(coverage["proved"])
    inhibition = checks["alerts.inhibition"]
    assert inhibition["status"] == "passed" and inhibition["observed"]["inhibited"] >= 1
    for name in ("alerts.dedup", "alerts.quality"):
        print(f"[figure] gate {name}: {json.dumps(checks[name]['observed'])[:400]}")
    # the run's report.html, as a reader's browser shows it: offline, no script error, the
    # timeline drawn; its screenshot stays in the run folder (report.png)
    run_dir = tmp_path / summary["run_id"]
    view = view_run_report(run_dir)
    assert view.problems() == [], view.problems()
    size_mb = (run_dir / "report.html").stat().st_size / 1e6
    print(f"[figure] gate report.html {size_mb:.2f} MB, viewed in {view.seconds:.1f} s, "
          f"screenshot {view.screenshot} {view.screenshot_size}")  # fmt: skip


# the new warning faults (gateway-latency, older, is proved by the nightly)
WARNING_FAULTS = (
    "silence-iot-devices",
    "leak-users-db-connections",
    "drop-users-connections",
    "fill-disk",
    "saturate-memory",
)


# in scripts/nightly (its `long` part, and every rule in its nightly profile runs): scripts/test
# proves the warning route to Slack through the Kubernetes alert run (test_k8s_runs), and this
# 6-minute run would take CI past its 45 minutes
@pytest.mark.long
@pytest.mark.timeout(1200)
def test_every_warning_fault_fires_and_reaches_slack(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    args = [arg for name in WARNING_FAULTS for arg in ("--experiment", name)]
    # 20 s of load first, ~35 s a fault (saturate-memory ~75 s), 15 s between them, a tail
    summary = _run(
        local_stack, tmp_path, "--profile", "smoke", "--duration", "330", *args, timeout_s=1200
    )
    checks = _checks(summary)
    _assert_proved(checks, [LOCAL / f"{name}.json" for name in WARNING_FAULTS])
    assert checks["alerts.grouping"]["status"] == "passed", checks["alerts.grouping"]
    assert summary["verdict"] == "passed", summary["failed_checks"]


# in scripts/nightly: scripts/test proves both crash-loop rules through the Kubernetes alert run
# (crash-loop-users-container, test_k8s_runs), the nightly profile this local experiment too
@pytest.mark.long
def test_a_crash_loop_raises_restarting_often_then_crash_looping(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    # the same experiment with a short resolve deadline: PodRestartingOften's 5-minute window
    # keeps it firing ~5 minutes (the nightly waits for it); here only firing and delivery
    experiment = json.loads((LOCAL / "crash-loop-users.json").read_text())
    for extension in experiment["extensions"]:
        if extension["name"] == "chaosgate":
            extension["resolve_deadline_s"] = 5
    path = tmp_path / "crash-loop-users.json"
    path.write_text(json.dumps(experiment))
    reports = tmp_path / "reports"
    summary = _run(
        local_stack,
        reports,
        "--profile", "smoke", "--duration", "110", "--experiment", str(path),
        timeout_s=900,
    )  # fmt: skip
    _assert_proved(_checks(summary), [path], resolved=False)


@contextmanager
def _program_stopped(stack: LocalStack, name: str) -> Iterator[None]:
    supervisor = SupervisorClient(stack.layout.supervisor_socket)
    supervisor.stop(name)
    try:
        yield
    finally:
        supervisor.start(name)


@contextmanager
def _inhibit_rule_removed(stack: LocalStack, target: str) -> Iterator[None]:
    """Alertmanager reloaded without the inhibit rules that mute ``target``."""
    config_file = stack.layout.config_dir / "alertmanager.yml"
    original = config_file.read_text()
    config = yaml.safe_load(original)
    config["inhibit_rules"] = [
        rule
        for rule in config["inhibit_rules"]
        if not any(target in matcher for matcher in rule["target_matchers"])
    ]
    alertmanager = stack.urls["alertmanager"]

    def loaded(http: httpx.Client) -> str:
        return str(http.get(f"{alertmanager}/api/v2/status").json()["config"]["original"])

    with httpx.Client(timeout=10.0) as http:
        try:
            config_file.write_text(yaml.safe_dump(config, sort_keys=False))
            http.post(f"{alertmanager}/-/reload").raise_for_status()
            assert target not in loaded(http), "the inhibit rule is still loaded"
            yield
        finally:
            config_file.write_text(original)
            http.post(f"{alertmanager}/-/reload").raise_for_status()
            wait_until(
                lambda: target in loaded(http),
                timeout_s=10,
                message="the inhibit rule loaded again",
            )


def test_a_stopped_smtp_server_and_a_removed_inhibit_rule_fail_their_checks_only(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    """Two seeded defects in one run, each failing its own check and nothing else of the
    alerts: the SMTP server stopped fails `.notified.email` (Slack and the webhook still get
    the page), and Alertmanager without the inhibit rule that mutes DatabaseTooManyConnections
    fails `alerts.inhibition` (the cause itself still pages)."""
    with (
        _program_stopped(local_stack, "smtp"),
        _inhibit_rule_removed(local_stack, "DatabaseTooManyConnections"),
    ):
        summary = _run(
            local_stack,
            tmp_path,
            "--profile", "smoke", "--duration", "110",
            "--experiment", "kill-users-service", "--experiment", "exhaust-orders-db-pool",
            timeout_s=700,
        )  # fmt: skip
    checks = _checks(summary)
    assert summary["_exit_code"] == 1
    for prefix in (
        "alert.UsersServiceDown{service=users,severity=critical}",
        "alert.DatabasePoolExhausted{service=orders,severity=critical}",
    ):
        assert checks[f"{prefix}.fired"]["status"] == "passed", checks[f"{prefix}.fired"]
        assert checks[f"{prefix}.notified.email"]["status"] == "failed"
        assert checks[f"{prefix}.notified.webhook"]["status"] == "passed"
        assert checks[f"{prefix}.notified.slack"]["status"] == "passed"
    inhibition = checks["alerts.inhibition"]
    assert inhibition["status"] == "failed", inhibition
    assert "DatabaseTooManyConnections" in inhibition["reason"]


def test_a_missing_rule_fails_coverage_and_a_slow_rule_fails_its_deadline(
    local_stack: LocalStack, tmp_path: Path
) -> None:
    """Two seeded rule defects in one nightly-profile run: UsersServiceHighErrorRate removed
    from what Prometheus loads fails `alerts.coverage` (its experiment names it), and
    UsersServiceDown given a `for` of 35 s (it could fire only after its 30 s deadline) fails
    its `.fired` check."""
    with (
        _rules_changed(local_stack, "UsersServiceHighErrorRate", "remove"),
        _rules_changed(local_stack, "UsersServiceDown", "slow"),
    ):
        summary = _run(
            local_stack,
            tmp_path,
            "--profile", "nightly", "--duration", "120",
            "--experiment", "kill-users-service", "--experiment", "users-error-ratio",
            timeout_s=700,
        )  # fmt: skip
    checks = _checks(summary)
    coverage = checks["alerts.coverage"]
    assert summary["_exit_code"] == 1
    assert coverage["status"] == "failed"
    assert "UsersServiceHighErrorRate" in coverage["observed"]["named_not_loaded"]
    assert "UsersServiceHighErrorRate (expected by users-error-ratio)" in coverage["reason"]
    fired = [c for n, c in checks.items() if n.startswith("alert.UsersServiceDown{")
             and n.endswith(".fired")]  # fmt: skip
    assert [c["status"] for c in fired] == ["failed"], fired
