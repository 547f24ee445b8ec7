"""One verification run: warm-up gate, load + chaos timeline together, assertions, reports.

Observations never raise once the run has started: a backend that fails becomes a check with
status ``error``. The exit code is the verdict: 0 pass, 1 a check failed or errored,
3 the target was not healthy enough to test.

Kubernetes chaos (``Target.chaos``) runs each experiment inside
:func:`~chaosgate.chaos.k8s_env.kubernetes_environment` (chaosk8s then reaches the target's
cluster, and nothing of it outlives the experiment) with the target's ``stress_node`` as the
experiments' configuration value ``stress_node``. An experiment ran well when chaoslib
completed it, its fault was injected and no action or rollback of it failed. A fault the
service is built to survive (``keeps_slo`` in its extension) has its window judged with the
steady-state SLO bounds, on its own (``slo.<source>.<experiment>``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from assertions.checks.alert_watcher import AlertWatcher
from assertions.checks.alerts import ExpectedAlert, check_expected_alert, evaluate_noise
from assertions.checks.ingest_lag import IngestLagProbe
from assertions.checks.logs import check_logs
from assertions.checks.slo import FaultWindow as SloWindow
from assertions.checks.slo import (
    SloBounds as SloSide,
)
from assertions.checks.slo import (
    SloExpected,
    check_prometheus_slo,
    evaluate_slo,
    ledger_slo,
)
from assertions.checks.traces import check_traces
from assertions.checks.warmup import WarmupBackends, check_warmup
from assertions.result import CheckResult, Status
from chaosgate.chaos.experiments import (
    chaosgate_extension,
    failed_activities,
    load_experiment,
    run_experiment,
)
from chaosgate.chaos.k8s_env import kubernetes_environment
from chaosgate.chaos.timeline import Timeline
from chaosgate.report.allure import write_allure_results
from chaosgate.report.junit import write_junit
from chaosgate.report.summary import RunSummary, write_summary
from chaosgate.run.load import LoadResult, start_load
from chaosgate.run.profiles import Profile, SloBounds
from chaosgate.run.progress import Progress
from chaosgate.target import Target
from scenarios.ledger import LedgerEntry, LedgerTail, read_ledger

__all__ = [
    "EXIT_FAILED",
    "EXIT_PASSED",
    "EXIT_UNHEALTHY",
    "RunOutcome",
    "RunPlan",
    "SloJudgement",
    "run_campaign",
    "slo_judgements",
]

EXIT_PASSED, EXIT_FAILED, EXIT_UNHEALTHY = 0, 1, 3


@dataclass(frozen=True)
class RunPlan:
    run_id: str
    run_dir: Path
    target: Target
    profile: Profile
    experiments: tuple[Path, ...]
    command: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunOutcome:
    exit_code: int
    verdict: str
    summary_path: Path
    checks: tuple[CheckResult, ...]


@dataclass(frozen=True)
class _ExperimentRun:
    path: Path
    title: str
    expected: tuple[ExpectedAlert, ...]
    resolve_deadline_s: float
    journal_path: Path
    inject_at: float | None
    rollback_at: float | None
    status: str
    error: str = ""
    keeps_slo: bool = False
    failed: tuple[str, ...] = ()  # "<phase>: <activity>: <why>" of failed actions / rollbacks


def _chaos_environment(target: Target) -> AbstractContextManager[None]:
    """Where chaosk8s finds the cluster while an experiment runs (nothing for local chaos)."""
    if target.chaos == "kubernetes":
        return kubernetes_environment(target.kubernetes)
    return nullcontext()


def _configuration(target: Target) -> dict[str, Any]:
    """Values for the experiments' ``configuration`` blocks that come from the target."""
    node = target.kubernetes.stress_node
    return {"stress_node": node} if target.chaos == "kubernetes" and node else {}


@contextmanager
def _chaostoolkit_log(path: Path) -> Iterator[None]:
    """chaoslib's own log goes to the run's folder, not into the live progress."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("chaostoolkit")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    previous = (logger.level, logger.propagate)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(previous[0])
        logger.propagate = previous[1]


def _pause_while(condition: Callable[[], bool], seconds: float) -> bool:
    """Sleep up to ``seconds`` while ``condition`` holds; False if it stopped holding."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not condition():
            return False
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    return condition()


def _chaos_timeline(
    plan: RunPlan,
    timeline: Timeline,
    progress: Progress,
    load_running: Callable[[], bool],
    results: list[_ExperimentRun],
) -> None:
    """Beside the load: wait, then each experiment in turn, with recovery gaps between them."""
    if not _pause_while(load_running, plan.profile.chaos_start_s):
        progress.info("chaos: the load ended before the first fault; no experiment ran")
        return
    chaos_dir = plan.run_dir / "chaos"
    chaos_dir.mkdir(parents=True, exist_ok=True)
    for index, path in enumerate(plan.experiments):
        if not load_running():
            progress.info(f"chaos: the load ended; {path.stem} and later experiments skipped")
            return
        experiment = load_experiment(path)
        extension = chaosgate_extension(experiment, source=str(path))
        expected = tuple(
            ExpectedAlert(spec.alertname, dict(spec.labels), spec.deadline_s)
            for spec in extension.expected_alerts
        )
        title = str(experiment.get("title", path.stem))
        progress.step(f"chaos: {path.stem} ({title})")
        journal_path = chaos_dir / f"{index:02d}-{path.stem}.journal.json"
        error = ""
        failed: tuple[str, ...] = ()
        try:
            with _chaos_environment(plan.target):
                journal = run_experiment(
                    path, timeline=timeline, configuration=_configuration(plan.target)
                )
            status = str(journal.get("status", "unknown"))
            failed = tuple(failed_activities(journal))
            journal_path.write_text(json.dumps(journal, indent=2, default=str))
        except Exception as exc:  # chaoslib or our provider failed: record, never crash the run
            status, error = "error", f"{type(exc).__name__}: {exc}"
        window = timeline.window(title)
        results.append(
            _ExperimentRun(
                path=path,
                title=title,
                expected=expected,
                resolve_deadline_s=extension.resolve_deadline_s,
                journal_path=journal_path,
                inject_at=window.inject_at if window else None,
                rollback_at=window.rollback_at if window else None,
                status=status,
                error=error,
                keeps_slo=extension.keeps_slo,
                failed=failed,
            )
        )
        problems = "; ".join(filter(None, [error, *failed]))
        progress.info(f"chaos: {path.stem} {status}{': ' + problems if problems else ''}")
        if index < len(plan.experiments) - 1:
            _pause_while(load_running, plan.profile.recovery_s)


def _experiment_checks(
    run: _ExperimentRun, watcher: AlertWatcher, backends: WarmupBackends
) -> list[CheckResult]:
    name = f"chaos.{run.path.stem}"
    completed = run.status == "completed" and run.inject_at is not None
    reason = run.error or ("" if run.status == "completed" else f"experiment ended {run.status}")
    if run.failed:
        reason = "; ".join(filter(None, [reason, *(f"{item} failed" for item in run.failed)]))
    ran = CheckResult(
        name,
        Status.PASSED if completed and not run.failed else Status.ERROR,
        "completed, fault injected, no action or rollback failed",
        {
            "status": run.status,
            "inject_at": run.inject_at,
            "rollback_at": run.rollback_at,
            "failed_activities": list(run.failed),
        },
        reason=reason,
        evidence={"journal": str(run.journal_path)},
    )
    if run.inject_at is None:
        return [ran]
    checks = [ran]
    for expected in run.expected:
        checks += check_expected_alert(
            watcher,
            expected,
            backend=backends.sink,
            inject_at=run.inject_at,
            rollback_at=run.rollback_at,
            resolve_deadline_s=run.resolve_deadline_s,
        )
    return checks


@dataclass(frozen=True)
class SloJudgement:
    """One SLO judgement: these fault windows, these bounds, and the check name's last part
    (None: ``outside_faults`` / ``inside_faults`` as :func:`evaluate_slo` names them)."""

    windows: tuple[SloWindow, ...]
    expected: SloExpected
    name: str | None = None


def slo_judgements(
    windows: Sequence[SloWindow], bounds: SloBounds, keeps_slo: frozenset[str] = frozenset()
) -> list[SloJudgement]:
    """Outside every window: the steady-state bounds. Inside the windows of faults the service
    is not built to survive: the in-fault bounds (judged unless every window is one it keeps
    its SLO in). Each window named in ``keeps_slo``: the steady-state bounds, on its own."""
    steady = SloSide(max_error_ratio=bounds.error_ratio, max_p95_s=bounds.p95_s)
    in_fault = SloSide(max_error_ratio=bounds.error_ratio_in_fault, max_p95_s=bounds.p95_s_in_fault)
    faulted = tuple(window for window in windows if window.name not in keeps_slo)
    kept = [window for window in windows if window.name in keeps_slo]
    judgements = [SloJudgement(tuple(windows), SloExpected(outside=steady))]
    if faulted or not kept:
        judgements.append(SloJudgement(faulted, SloExpected(inside=in_fault)))
    judgements += [
        SloJudgement((window,), SloExpected(inside=steady), name=window.name) for window in kept
    ]
    return judgements


def _slo_checks(
    plan: RunPlan,
    entries: Sequence[LedgerEntry],
    windows: Sequence[SloWindow],
    backends: WarmupBackends,
    start: float,
    end: float,
    keeps_slo: frozenset[str] = frozenset(),
) -> list[CheckResult]:
    """Each of :func:`slo_judgements`, from the ledger and from Prometheus."""
    checks: list[CheckResult] = []
    for judgement in slo_judgements(windows, plan.profile.slo, keeps_slo):
        results = [
            *evaluate_slo(ledger_slo(entries, judgement.windows), judgement.expected),
            *check_prometheus_slo(
                judgement.windows,
                judgement.expected,
                backend=backends.prometheus,
                start=start,
                end=end,
                deadline_s=30.0,
            ),
        ]
        if judgement.name is not None:
            results = [
                replace(r, name=f"slo.{r.name.split('.')[1]}.{judgement.name}") for r in results
            ]
        checks += results
    return checks


def _in_fault(entry: LedgerEntry, windows: Sequence[SloWindow], grace_s: float) -> bool:
    end = entry.started_at + entry.latency_s
    return any(
        end >= window.start - grace_s and entry.started_at <= window.end + grace_s
        for window in windows
    )


def _completeness_checks(
    plan: RunPlan,
    entries: Sequence[LedgerEntry],
    windows: Sequence[SloWindow],
    backends: WarmupBackends,
) -> list[CheckResult]:
    """Every ledger id in Jaeger and Elasticsearch.

    Outside fault windows every trace must hold the gateway and its downstream service.
    Inside them (plus a grace for the spans a killed process still had buffered) only the
    gateway span is promised: a fault may take the downstream telemetry with it.
    The lag these checks see is only an upper bound (they poll after the load), so it is
    left to the live ``*.ingest_lag`` checks; ``latency_s`` is cleared here.
    """
    profile, target = plan.profile, plan.target
    grace_s = 2.0
    inside: list[LedgerEntry] = []
    outside: list[LedgerEntry] = []
    for entry in entries:
        (inside if _in_fault(entry, windows, grace_s) else outside).append(entry)
    common: dict[str, Any] = {
        "threshold": profile.completeness,
        "sample_size": profile.trace_sample,
        "seed": profile.seed,
    }
    checks = [
        check_traces(
            outside, backend=backends.jaeger, deadline_s=target.deadlines.traces_s, **common
        )
    ]
    if inside:
        in_faults = check_traces(
            inside,
            backend=backends.jaeger,
            deadline_s=target.deadlines.traces_s,
            downstream_by_prefix={},
            **common,
        )
        checks.append(replace(in_faults, name="traces.completeness.in_faults"))
    checks.append(
        check_logs(
            entries,
            backend=backends.elasticsearch,
            deadline_s=target.deadlines.logs_s,
            field=target.elasticsearch.trace_id_field,
            timestamp_field=target.elasticsearch.timestamp_field,
            **common,
        )
    )
    return [replace(check, latency_s=None) for check in checks]


def _write_reports(
    plan: RunPlan,
    checks: Sequence[CheckResult],
    timeline: Timeline,
    started: float,
    exit_code: int,
    verdict: str,
    load: dict[str, Any],
) -> Path:
    finished = time.time()
    allure_dir = plan.run_dir / "allure-results"
    write_junit(
        checks, plan.run_dir / "junit.xml", suite=plan.profile.name, duration_s=finished - started
    )
    write_allure_results(
        checks,
        allure_dir,
        run_id=plan.run_id,
        profile=plan.profile.name,
        started_ms=int(started * 1000),
        stopped_ms=int(finished * 1000),
    )
    settings = {
        "profile": asdict(plan.profile),
        "target": plan.target.redacted_dict(),
        "experiments": [str(p) for p in plan.experiments],
        "seed": plan.profile.seed,
        "command": list(plan.command),
    }
    summary = RunSummary(
        run_id=plan.run_id,
        verdict=verdict,
        exit_code=exit_code,
        started_at=started,
        finished_at=finished,
        settings=settings,
        timeline=[
            *timeline.as_json(),
            *({"fault_window": w.as_json()} for w in timeline.fault_windows()),
        ],
        checks=checks,
        load=load,
        artifacts={
            "junit": "junit.xml",
            "allure_results": "allure-results/",
            "ledger": "ledger/",
            "chaos_journals": "chaos/",
            "locust_stats": "locust/locust_stats.csv",
        },
    )
    path = plan.run_dir / "summary.json"
    write_summary(summary, path)
    return path


def _verdict(checks: Sequence[CheckResult]) -> tuple[int, str]:
    return (EXIT_PASSED, "passed") if all(c.passed for c in checks) else (EXIT_FAILED, "failed")


def run_campaign(
    plan: RunPlan,
    backends: WarmupBackends,
    *,
    progress: Progress,
    on_check: Callable[[CheckResult], None] | None = None,
) -> RunOutcome:
    started = time.time()
    plan.run_dir.mkdir(parents=True, exist_ok=True)
    timeline = Timeline()
    checks: list[CheckResult] = []

    def record(results: Sequence[CheckResult]) -> None:
        for result in results:
            checks.append(result)
            progress.check(result)
            if on_check is not None:
                on_check(result)

    progress.step(f"warm-up: is {plan.target.name!r} healthy enough to test?")
    record(check_warmup(backends))
    if not all(c.passed for c in checks):
        path = _write_reports(plan, checks, timeline, started, EXIT_UNHEALTHY, "unhealthy", {})
        return RunOutcome(EXIT_UNHEALTHY, "unhealthy", path, tuple(checks))

    profile = plan.profile
    watcher = AlertWatcher(backends.alertmanager).start()
    progress.step(
        f"load: {profile.users} users for {profile.duration_s} s ({', '.join(profile.scenarios)})"
    )
    load_started = time.time()
    load = start_load(profile, plan.target.gateway_url, plan.run_dir, run_id=plan.run_id)
    deadlines = plan.target.deadlines
    probe = IngestLagProbe(
        LedgerTail(plan.run_dir / "ledger"),
        jaeger=backends.jaeger,
        elasticsearch=backends.elasticsearch,
        trace_id_field=plan.target.elasticsearch.trace_id_field,
        traces_deadline_s=deadlines.traces_s,
        logs_deadline_s=deadlines.logs_s,
        seed=profile.seed,
    ).start()
    experiment_runs: list[_ExperimentRun] = []
    try:
        # chaoslib must run on the main thread (it installs signal handlers); Locust is a
        # separate process, so the load goes on while the experiments run here
        with _chaostoolkit_log(plan.run_dir / "chaos" / "chaostoolkit.log"):
            _chaos_timeline(plan, timeline, progress, load.running, experiment_runs)
    finally:
        load_result: LoadResult = load.wait(timeout_s=profile.duration_s + 120)
    load_ended = time.time()
    progress.step(f"load finished (locust exit {load_result.exit_code})")
    probe.stop()
    probe.drain()

    entries = read_ledger(plan.run_dir / "ledger")
    statuses = [e.status for e in entries]
    load_summary = {
        "requests": len(entries),
        "responses_5xx": sum(1 for s in statuses if s >= 500),
        "no_response": sum(1 for s in statuses if s == 0),
        "locust_exit_code": load_result.exit_code,
        "started_at": load_started,
        "ended_at": load_ended,
    }
    progress.info(f"ledger: {len(entries)} requests")
    if not entries:
        record(
            [
                CheckResult(
                    "load.ledger",
                    Status.ERROR,
                    "requests recorded",
                    0,
                    reason=f"the load recorded no request; see {load_result.log}",
                )
            ]
        )

    # the fault windows, once: from inject to rollback (or the end of the load)
    windows = [
        SloWindow(start=run.inject_at, end=run.rollback_at or load_ended, name=run.path.stem)
        for run in experiment_runs
        if run.inject_at is not None
    ]
    progress.step("checks: traces in Jaeger, logs in Elasticsearch")
    record(
        probe.results(
            traces_deadline_s=deadlines.traces_s,
            logs_deadline_s=deadlines.logs_s,
            fault_windows=[(window.start, window.end) for window in windows],
        )
    )
    record(_completeness_checks(plan, entries, windows, backends))

    progress.step("checks: expected alerts, notifications, resolution")
    for run in experiment_runs:
        record(_experiment_checks(run, watcher, backends))
    watcher.stop()
    all_expected = [alert for run in experiment_runs for alert in run.expected]
    record([evaluate_noise(watcher.observations(), all_expected, (load_started, time.time()))])

    progress.step("checks: SLOs inside and outside fault windows")
    keeps_slo = frozenset(run.path.stem for run in experiment_runs if run.keeps_slo)
    record(_slo_checks(plan, entries, windows, backends, load_started, load_ended, keeps_slo))

    exit_code, verdict = _verdict(checks)
    path = _write_reports(plan, checks, timeline, started, exit_code, verdict, load_summary)
    return RunOutcome(exit_code, verdict, path, tuple(checks))
