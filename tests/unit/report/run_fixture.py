"""A synthetic run folder shaped like a real one (summary.json as RunSummary writes it, a
ledger file as LedgerWriter writes it): one fault, one alert that fired and was notified late
on one receiver, one alert that never fired, an unexpected critical alert, ingest-lag checks.

Built from the same types the run uses (CheckResult, TimelineEvent, ExperimentSpan, LedgerEntry,
RunSummary), so a change of their shape shows here too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assertions.result import CheckResult, Status
from chaosgate.chaos.timeline import Timeline, TimelineEvent
from chaosgate.report.summary import RunSummary, write_summary
from chaosgate.vocabulary import LedgerEntry

__all__ = [
    "EXPERIMENT",
    "INJECT",
    "ROLLBACK",
    "RUN_ID",
    "START",
    "TITLE",
    "checks",
    "entry",
    "ledger_entries",
    "read_summary",
    "timeline",
    "write_run_folder",
]

RUN_ID = "20261202-050719-smoke-test"
START = 1_796_188_000.0  # the run's start: t = 0 on the report's axis
INJECT = START + 30.0
ROLLBACK = START + 60.0
EXPERIMENT = "kill-users-service"
TITLE = "Killing the users service raises UsersServiceDown"
USERS_DOWN = "UsersServiceDown{service=users,severity=critical}"
GATEWAY = "GatewayHighErrorRate{service=gateway,severity=critical}"


def entry(scenario: str, at: float, status: int = 200, latency_s: float = 0.05) -> LedgerEntry:
    return LedgerEntry(
        trace_id=f"{int(at * 1000):032x}"[-32:],
        span_id="00f067aa0ba902b7",
        request_id=f"req-{scenario}-{at}",
        scenario=scenario,
        method="GET",
        route="/api/menu",
        status=status,
        started_at=at,
        latency_s=latency_s,
    )


def ledger_entries() -> list[LedgerEntry]:
    """90 s of load: 3 Customer, 2 IoTDevice, 1 KitchenStaff request a second; in the fault
    (30-60 s) every other Customer request is a 503 and one gets no answer a second."""
    entries = []
    for second in range(1, 91):
        at = START + second
        faulty = INJECT <= at < ROLLBACK
        entries.append(entry("Customer", at + 0.1, 503 if faulty else 200, 0.2 if faulty else 0.05))
        entries.append(entry("Customer", at + 0.4, 0 if faulty else 200, 0.1))
        entries.append(entry("Customer", at + 0.7))
        entries.append(entry("IoTDevice", at + 0.2, latency_s=0.02))
        entries.append(entry("IoTDevice", at + 0.6, latency_s=0.03))
        entries.append(entry("KitchenStaff", at + 0.5, latency_s=0.08))
    return entries


def timeline() -> list[dict[str, Any]]:
    """summary.json's timeline: the events of one experiment, then its fault window."""
    events = Timeline()
    for kind, activity, phase, at, status in (
        ("experiment-start", "", "start", INJECT - 0.2, "running"),
        ("inject", "kill-users", "start", INJECT, "running"),
        ("inject", "kill-users", "end", INJECT + 0.1, "succeeded"),
        ("rollback", "", "start", ROLLBACK - 0.5, "running"),
        ("rollback", "", "end", ROLLBACK, "completed"),
        ("experiment-end", "", "end", ROLLBACK + 0.1, "completed"),
    ):
        events.add(TimelineEvent(TITLE, kind, activity, phase, at, status))  # type: ignore[arg-type]
    return [*events.as_json(), *({"fault_window": w.as_json()} for w in events.experiment_spans())]


def _episode(alertname: str, starts: float, resolved: float | None) -> dict[str, Any]:
    return {
        "fingerprint": f"fp-{alertname}",
        "labels": {"alertname": alertname, "severity": "critical", "service": "users"},
        "starts_at": starts,
        "first_seen": starts + 0.4,
        "last_seen": (resolved or starts) - 0.5,
        "resolved_at": resolved,
    }


def checks() -> list[CheckResult]:
    """The run's checks: warm-up, ingest lag, the experiment's, two alerts', noise, an SLO."""
    lag = {"p50": 1.2, "p95": 2.5, "max": 3.4}
    return [
        CheckResult("warmup.gateway", Status.PASSED, "answers", "answers", attempts=1),
        CheckResult(
            "traces.ingest_lag",
            Status.PASSED,
            {"found_within_s": 30.0},
            {"sampled": 50, "found": 50, "unobserved": 0, "lag_s": lag},
            "",
            2.5,
            40,
            {"missed": [], "method": "live sample"},
        ),
        CheckResult(
            "logs.ingest_lag",
            Status.FAILED,
            {"found_within_s": 30.0},
            {"sampled": 50, "found": 48, "unobserved": 0, "lag_s": lag},
            "2 of 50 sampled requests not searchable within 30 s",
            2.5,
            40,
            {"missed": ["a", "b"]},
        ),
        CheckResult(
            f"chaos.{EXPERIMENT}",
            Status.PASSED,
            "completed, fault injected, no action or rollback failed",
            {
                "status": "completed",
                "inject_at": INJECT,
                "rollback_at": ROLLBACK,
                "failed_activities": [],
            },
        ),
        CheckResult(
            f"alert.{USERS_DOWN}.fired",
            Status.PASSED,
            {"labels": {"alertname": "UsersServiceDown"}, "within_s": 30.0},
            {"fired_after_s": 6.4, "starts_at_after_s": 6.0},
            "",
            6.4,
            120,
            {
                "inject_at": INJECT,
                "episode": _episode("UsersServiceDown", INJECT + 6.0, ROLLBACK + 3.0),
            },
        ),
        CheckResult(
            f"alert.{USERS_DOWN}.notified.webhook",
            Status.PASSED,
            {"integration": "webhook", "status": "firing", "within_s": 30.0},
            {"notified_after_s": 7.1},
            "",
            7.1,
            1,
            {"inject_at": INJECT, "judged_from": "sink", "received_at": INJECT + 7.1},
        ),
        CheckResult(
            f"alert.{USERS_DOWN}.notified.slack",
            Status.FAILED,
            {"integration": "slack", "status": "firing", "within_s": 30.0},
            {"notified_after_s": 33.0},
            "the firing notification reached slack 33.0 s after inject, later than 30 s",
            33.0,
            1,
            {"inject_at": INJECT, "judged_from": "sink", "received_at": INJECT + 33.0},
        ),
        CheckResult(
            f"alert.{USERS_DOWN}.resolved",
            Status.PASSED,
            {"resolved_within_s_of_rollback": 60.0},
            {"resolved_after_rollback_s": 3.0},
            "",
            3.0,
            120,
            {
                "inject_at": INJECT,
                "rollback_at": ROLLBACK,
                "resolved_notification_at": ROLLBACK + 4.0,
                "resolved_notifications": {"webhook": ROLLBACK + 4.0, "slack": ROLLBACK + 4.2},
            },
        ),
        CheckResult(
            f"alert.{GATEWAY}.fired",
            Status.FAILED,
            {"labels": {"alertname": "GatewayHighErrorRate"}, "within_s": 30.0},
            {"fired": False},
            "GatewayHighErrorRate did not fire within 30 s of inject",
            None,
            120,
            {"inject_at": INJECT, "other_episodes": []},
        ),
        CheckResult(
            "alerts.noise",
            Status.FAILED,
            {"unexpected": 0, "severity": "critical", "window": [START, START + 95]},
            {"unexpected": 1, "inhibited": 0, "inhibited_delivery_unknown": 0},
            "1 unexpected critical alert episode(s) in the window: NodeHighCPU",
            None,
            120,
            {
                "alerts": [_episode("NodeHighCPU", START + 40.0, START + 52.0)],
                "inhibited": [],
                "inhibited_delivery_unknown": [],
            },
        ),
        CheckResult(
            "slo.ledger.inside_faults",
            Status.PASSED,
            {"max_error_ratio": 0.6, "max_p95_s": 5.0},
            {"requests": 180, "errors": 60, "error_ratio": 0.333, "p95_s": 0.2},
            "",
            0.2,
        ),
    ]


def write_run_folder(
    reports: Path,
    *,
    verdict: str = "failed",
    results: Sequence[CheckResult] | None = None,
    events: Sequence[dict[str, Any]] | None = None,
    ledger: Sequence[LedgerEntry] | None = None,
    duration_s: float = 95.0,
) -> Path:
    """``reports/<run-id>/`` with summary.json and (unless ``ledger`` is empty) a ledger."""
    run_dir = reports / RUN_ID
    run_dir.mkdir(parents=True)
    results = checks() if results is None else results
    entries = ledger_entries() if ledger is None else ledger
    summary = RunSummary(
        run_id=RUN_ID,
        verdict=verdict,
        exit_code=0 if verdict == "passed" else 1,
        started_at=START,
        finished_at=START + duration_s,
        settings={
            "profile": {
                "name": "smoke",
                "seed": 7,
                "users": 6,
                "duration_s": 90,
                "scenarios": ["Customer", "KitchenStaff", "IoTDevice"],
            },
            "target": {"name": "local", "gateway_url": "http://127.0.0.1:8080", "chaos": "local"},
            "experiments": [f"experiments/local/{EXPERIMENT}.json"],
            "seed": 7,
            "command": ["chaosgate", "run", "--profile", "smoke"],
        },
        timeline=timeline() if events is None else events,
        checks=results,
        load={"requests": len(entries), "locust_exit_code": 0},
        artifacts={"junit": "junit.xml", "ledger": "ledger/"},
    )
    write_summary(summary, run_dir / "summary.json")
    if entries:
        (run_dir / "ledger").mkdir()
        lines = "".join(item.to_json() + "\n" for item in entries)
        (run_dir / "ledger" / "ledger-host-1.jsonl").write_text(lines)
    return run_dir


def read_summary(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "summary.json").read_text())
    return data
