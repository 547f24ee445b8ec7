"""run_campaign's control flow with fakes for everything it reaches (CampaignParts): no network,
no process. A chaos phase that raises still stops the load, the probe and the watcher, and the
run's summary.json says failed with a run.error check; a run whose phases go well says passed.
"""

from __future__ import annotations

import io
import json
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from rich.console import Console

from assertions.backends.alertmanager import AlertmanagerBackend
from assertions.checks.alert_watcher import AlertWatcher
from assertions.checks.warmup import WarmupBackends
from assertions.result import CheckResult, Status
from chaosgate.faults.ledger import FaultLedger, ProcessRef
from chaosgate.faults.recorder import RunFaults
from chaosgate.run.alert_judging import AlertingSetup
from chaosgate.run.backends import build_backends
from chaosgate.run.campaign import run_campaign
from chaosgate.run.campaign_parts import CampaignParts, RunningLoad
from chaosgate.run.chaos_phase import ChaosPhaseInputs, ExperimentRun
from chaosgate.run.interrupts import Interrupts
from chaosgate.run.judge_phase import FinishedRun, LagProbe, Recorder
from chaosgate.run.load import LoadResult
from chaosgate.run.part_versions import ChaosgateBuild
from chaosgate.run.progress import Progress
from chaosgate.run.run_plan import RunOutcome, RunPlan
from chaosgate.target import Target
from chaosgate.vocabulary import FaultWindow, LedgerEntry
from tests.support.clocks import FakeClock
from tests.unit.run.plans import smoke_plan, target_at

AM_URL = "http://alertmanager.test"
NO_SUCH_PID = 4_999_999  # above Linux's largest pid_max: the fault ledger records no load
REQUESTS = 5


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("a campaign test reaches no backend", request=request)


def _passed(name: str) -> CheckResult:
    return CheckResult(name, Status.PASSED, "fine", "fine")


@dataclass
class FakeLoad:
    """A load that is a ledger written at start, and records how it was ended."""

    pid: int = NO_SUCH_PID
    web_url: str | None = None
    alive: bool = True
    calls: list[str] = field(default_factory=list)

    def running(self) -> bool:
        return self.alive

    def _result(self) -> LoadResult:
        return LoadResult(0, Path("locust_stats.csv"), Path("locust.log"))

    def wait(self, timeout_s: float) -> LoadResult:
        self.calls.append("wait")
        self.alive = False
        return self._result()

    def stop(self) -> None:
        self.calls.append("stop")

    def end(self, grace_s: float) -> LoadResult:
        self.calls.append("end")
        self.alive = False
        return self._result()


@dataclass
class FakeProbe:
    stopped: int = 0
    drained: int = 0

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stopped += 1

    def drain(self) -> None:
        self.drained += 1

    def results(
        self, *, traces_deadline_s: float, logs_deadline_s: float, fault_windows: Any
    ) -> list[CheckResult]:
        return [_passed("traces.ingest_lag")]


class RecordingWatcher(AlertWatcher):
    """A watcher that is never started (its backend refuses) and counts its stops."""

    def __init__(self) -> None:
        super().__init__(
            AlertmanagerBackend(httpx.Client(transport=httpx.MockTransport(_refuse)), AM_URL)
        )
        self.stops = 0

    def stop(self, timeout_s: float = 5.0) -> None:
        self.stops += 1
        super().stop(timeout_s)


def _write_ledger(run_dir: Path, started_at: float) -> None:
    ledger = run_dir / "ledger"
    ledger.mkdir(parents=True, exist_ok=True)
    lines = [
        LedgerEntry(f"{n:032x}", f"{n:016x}", f"r{n}", "Customer", "GET", "/api/menu", 200,
                    started_at + n, 0.05).to_json()
        for n in range(1, REQUESTS + 1)
    ]  # fmt: skip
    (ledger / "ledger-test-1.jsonl").write_text("\n".join(lines) + "\n")


@dataclass
class Fakes:
    """Every part a campaign reaches, faked, and what each saw."""

    clock: FakeClock = field(default_factory=lambda: FakeClock(1000.0))
    load: FakeLoad = field(default_factory=FakeLoad)
    probe: FakeProbe = field(default_factory=FakeProbe)
    watcher: RecordingWatcher = field(default_factory=RecordingWatcher)
    chaos_error: Exception | None = None
    judged: list[FinishedRun] = field(default_factory=list)

    def start_load(self, plan: RunPlan) -> RunningLoad:
        _write_ledger(plan.run_dir, self.clock())
        return self.load

    def start_probe(self, plan: RunPlan, backends: WarmupBackends) -> LagProbe:
        return self.probe

    def chaos_phase(self, inputs: ChaosPhaseInputs) -> None:
        plan, progress, load_started = inputs.plan, inputs.progress, inputs.load_started
        assert load_started is not None
        progress.step("chaos: kill-users (Kill the users service)")
        assert inputs.load_running()
        if self.chaos_error is not None:
            raise self.chaos_error
        self.clock.advance(20.0)
        inputs.results.append(
            ExperimentRun(Path("kill-users.json"), "Kill the users service", (), 60.0,
                          plan.run_dir / "chaos" / "00-kill-users.journal.json",
                          inject_at=load_started + 5.0, rollback_at=load_started + 15.0,
                          status="completed")
        )  # fmt: skip

    def judge(self, run: FinishedRun, record: Recorder) -> None:
        self.judged.append(run)
        record([_passed("judged.everything")])

    def parts(self) -> CampaignParts:
        return CampaignParts(
            check_warmup=lambda backends: [_passed("warmup.gateway")],
            read_part_versions=lambda backends, target: {},
            chaosgate_build=lambda: ChaosgateBuild("0.0.0", None, None),
            read_alerting=lambda backends: AlertingSetup(None, None),
            watch_alerts=lambda backends: self.watcher,
            start_load=self.start_load,
            start_probe=self.start_probe,
            chaos_phase=self.chaos_phase,
            judge=self.judge,
            clock=self.clock,
        )


@pytest.fixture
def backends() -> Iterator[WarmupBackends]:
    target = _target()
    with (
        httpx.Client(transport=httpx.MockTransport(_refuse)) as http,
        requests.Session() as session,
    ):
        yield build_backends(target, http, http, session)


def _target() -> Target:
    urls = [f"http://{name}.test" for name in ("jaeger", "es", "prometheus", "am", "sink")]
    return target_at(*urls, deadline_s=1.0)


def _run(
    tmp_path: Path,
    backends: WarmupBackends,
    parts: CampaignParts,
    *,
    interrupts: Interrupts | None = None,
) -> RunOutcome:
    plan = replace(smoke_plan(_target(), tmp_path / "run"), run_id="run-1")
    faults = RunFaults(
        FaultLedger(tmp_path / "state"),
        run_id=plan.run_id,
        target=plan.target.name,
        runner=ProcessRef.of(os.getpid()),
    )
    progress = Progress(Console(file=io.StringIO(), width=120))
    return run_campaign(
        plan,
        backends,
        progress=progress,
        faults=faults,
        interrupts=interrupts or Interrupts(),
        parts=parts,
    )


def _summary(outcome: RunOutcome) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(outcome.summary_path.read_text())
    return summary


def test_a_chaos_phase_that_raises_still_stops_the_load_the_probe_and_the_watcher(
    tmp_path: Path, backends: WarmupBackends
) -> None:
    fakes = Fakes(chaos_error=RuntimeError("chaoslib blew up"))
    outcome = _run(tmp_path, backends, fakes.parts())
    assert "end" in fakes.load.calls and not fakes.load.running()
    assert fakes.probe.stopped >= 1
    assert fakes.watcher.stops >= 1
    assert fakes.judged == []  # nothing is judged after an exception: it would be a guess
    assert (outcome.exit_code, outcome.verdict) == (1, "failed")


def test_a_chaos_phase_that_raises_is_reported_as_a_failed_run_in_summary_json(
    tmp_path: Path, backends: WarmupBackends
) -> None:
    outcome = _run(tmp_path, backends, Fakes(chaos_error=RuntimeError("chaoslib blew up")).parts())
    summary = _summary(outcome)
    assert (summary["verdict"], summary["exit_code"]) == ("failed", 1)
    checks = {check["name"]: check for check in summary["checks"]}
    assert checks["warmup.gateway"]["status"] == "passed"  # what was judged before stays
    error = checks["run.error"]
    assert error["status"] == "error"
    assert "during chaos: kill-users" in error["reason"]
    assert "RuntimeError: chaoslib blew up" in error["reason"]
    assert "chaoslib blew up" in error["evidence"]["traceback"]
    assert summary["failed_checks"] == ["run.error"]
    assert summary["load"]["locust_exit_code"] == 0  # the load was ended, and says how


def test_a_run_whose_phases_go_well_writes_a_passed_summary(
    tmp_path: Path, backends: WarmupBackends
) -> None:
    fakes = Fakes()
    outcome = _run(tmp_path, backends, fakes.parts())
    summary = _summary(outcome)
    assert (outcome.exit_code, outcome.verdict) == (0, "passed")
    assert (summary["verdict"], summary["exit_code"]) == ("passed", 0)
    assert [c["name"] for c in summary["checks"]] == ["warmup.gateway", "judged.everything"]
    assert summary["load"]["requests"] == REQUESTS
    (judged,) = fakes.judged
    assert len(judged.entries) == REQUESTS
    start = judged.load_started
    assert judged.windows == [FaultWindow(start + 5.0, start + 15.0, "kill-users")]
    # and nothing it started outlives it
    assert fakes.load.calls == ["wait"] and not fakes.load.running()
    assert fakes.probe.stopped >= 1 and fakes.probe.drained == 1  # drained before judging
    assert fakes.watcher.stops >= 1


def test_an_exception_before_the_warm_up_has_passed_propagates(
    tmp_path: Path, backends: WarmupBackends
) -> None:
    fakes = Fakes()

    def broken_warmup(backends: WarmupBackends) -> list[CheckResult]:
        raise ValueError("no warm-up")

    with pytest.raises(ValueError, match="no warm-up"):
        _run(tmp_path, backends, replace(fakes.parts(), check_warmup=broken_warmup))
    assert fakes.load.calls == [] and fakes.watcher.stops == 0  # nothing was started


def test_a_load_the_signal_already_stopped_is_marked_undone_in_the_interrupted_summary(
    tmp_path: Path, backends: WarmupBackends
) -> None:
    """The signal's callback stops Locust at once; by the time the run winds down the load
    has ended by itself, and its fault-ledger entry must say undone, not pending."""
    interrupts = Interrupts()
    fakes = Fakes(load=FakeLoad(pid=os.getpid()))

    def interrupted_chaos(inputs: ChaosPhaseInputs) -> None:
        fakes.load.alive = False  # Locust obeyed the stop the callback sent
        interrupts.handler(signal.SIGTERM)

    parts = replace(fakes.parts(), chaos_phase=interrupted_chaos)
    outcome = _run(tmp_path, backends, parts, interrupts=interrupts)
    assert (outcome.exit_code, outcome.verdict) == (143, "interrupted")
    summary = _summary(outcome)
    assert [(e["kind"], e["state"]) for e in summary["faults"]] == [("load", "undone")]
    assert "stop" in fakes.load.calls  # the callback told the load to stop
