"""Judging a finished load + chaos phase: trace and log completeness, SLOs (alerts:
:mod:`chaosgate.run.alert_judging`).

Every function here turns observations into :class:`CheckResult`s and never raises for a
backend failure; :func:`judged` turns anything else a judgement raises into an error result, so
the run always completes with its reports. A fault the service is built to survive
(``keeps_slo`` in its extension) has its window judged with the steady-state SLO bounds, on its
own (``slo.<source>.<experiment>``).

A backend is waited for once per phase: when a check gave up on it at the end of its deadline
(Jaeger for ``traces.completeness``, Prometheus for an SLO judgement), the next checks of the
same function that need it do not wait a whole deadline again (``traces.completeness.in_faults``
is not polled; the later Prometheus judgements make one attempt), so a hanging backend costs
one deadline plus a request timeout per check, not a deadline per check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from assertions.checks.completeness import FoundCallback
from assertions.checks.logs import check_logs
from assertions.checks.slo import SloExpected, check_prometheus_slo, evaluate_slo, ledger_slo
from assertions.checks.traces import check_traces
from assertions.checks.warmup import WarmupBackends
from assertions.result import CheckResult, Status
from chaosgate.run.backends import span_store_of
from chaosgate.run.check_progress import found_progress
from chaosgate.run.progress import Progress
from chaosgate.run.run_plan import RunPlan
from chaosgate.vocabulary import FaultWindow, LedgerEntry, SloBounds

__all__ = [
    "SloJudgement",
    "completeness_checks",
    "judged",
    "slo_checks",
    "slo_judgements",
]

PROMETHEUS_SLO_DEADLINE_S = 30.0


def judged(names: Sequence[str], judge: Callable[[], list[CheckResult]]) -> list[CheckResult]:
    """``judge()``, or one error result per name in ``names`` when it raises: a malformed
    observation that slipped past a backend's checks must not crash the run (its reports
    would be lost); the reason names the exception, for a bug report."""
    try:
        return judge()
    except Exception as exc:
        reason = (
            f"chaosgate could not judge this check: {type(exc).__name__}: {exc}"[:500]
            + " (a bug in chaosgate or an answer it does not understand; please report it)"
        )
        return [CheckResult(name, Status.ERROR, None, None, reason=reason) for name in names]


def _backend_failed(result: CheckResult) -> bool:
    return result.status is Status.ERROR and bool(result.evidence.get("backend_failed"))


@dataclass(frozen=True)
class SloJudgement:
    """One SLO judgement: these fault windows, these bounds, and the check name's last part
    (None: ``outside_faults`` / ``inside_faults`` as :func:`evaluate_slo` names them)."""

    windows: tuple[FaultWindow, ...]
    expected: SloExpected
    name: str | None = None


def slo_judgements(
    windows: Sequence[FaultWindow],
    steady: SloBounds,
    in_fault: SloBounds,
    keeps_slo: frozenset[str] = frozenset(),
) -> list[SloJudgement]:
    """Outside every window: the ``steady`` bounds. Inside the windows of faults the service
    is not built to survive: the ``in_fault`` bounds (judged unless every window is one it
    keeps its SLO in). Each window named in ``keeps_slo``: the ``steady`` bounds, on its own."""
    faulted = tuple(window for window in windows if window.name not in keeps_slo)
    kept = [window for window in windows if window.name in keeps_slo]
    judgements = [SloJudgement(tuple(windows), SloExpected(outside=steady))]
    if faulted or not kept:
        judgements.append(SloJudgement(faulted, SloExpected(inside=in_fault)))
    judgements += [
        SloJudgement((window,), SloExpected(inside=steady), name=window.name) for window in kept
    ]
    return judgements


def slo_checks(
    plan: RunPlan,
    entries: Sequence[LedgerEntry],
    windows: Sequence[FaultWindow],
    backends: WarmupBackends,
    start: float,
    end: float,
    keeps_slo: frozenset[str] = frozenset(),
    *,
    prometheus_deadline_s: float = PROMETHEUS_SLO_DEADLINE_S,
) -> list[CheckResult]:
    """Each of :func:`slo_judgements`, from the ledger and from Prometheus (each Prometheus
    judgement retried for ``prometheus_deadline_s``). Once Prometheus could not be read for a
    whole deadline, the later judgements make one attempt each."""
    checks: list[CheckResult] = []
    deadline_s = prometheus_deadline_s
    profile = plan.profile
    for judgement in slo_judgements(windows, profile.slo, profile.slo_in_fault, keeps_slo):
        names = _slo_names(judgement)

        def judge(
            judgement: SloJudgement = judgement, deadline_s: float = deadline_s
        ) -> list[CheckResult]:
            return [
                *evaluate_slo(ledger_slo(entries, judgement.windows), judgement.expected),
                *check_prometheus_slo(
                    judgement.windows,
                    judgement.expected,
                    backend=backends.prometheus,
                    start=start,
                    end=end,
                    deadline_s=deadline_s,
                ),
            ]

        results = judged(names, judge)
        if any(_backend_failed(r) for r in results):
            deadline_s = 0.0
        if judgement.name is not None:
            results = [
                replace(r, name=f"slo.{r.name.split('.')[1]}.{judgement.name}") for r in results
            ]
        checks += results
    return checks


def _slo_names(judgement: SloJudgement) -> list[str]:
    """The names :func:`evaluate_slo` gives a judgement's results (before renaming)."""
    sides = [
        side
        for side, bounds in (
            ("outside", judgement.expected.outside),
            ("inside", judgement.expected.inside),
        )
        if bounds is not None
    ]
    return [f"slo.{source}.{side}_faults" for source in ("ledger", "prometheus") for side in sides]


def _in_fault(entry: LedgerEntry, windows: Sequence[FaultWindow], grace_s: float) -> bool:
    """Whether some moment of the request, from its start to its end, was inside a window."""
    return any(w.touches(entry.started_at, entry.ended_at, grace_s=grace_s) for w in windows)


def completeness_checks(
    plan: RunPlan,
    entries: Sequence[LedgerEntry],
    windows: Sequence[FaultWindow],
    backends: WarmupBackends,
    *,
    progress: Progress | None = None,
) -> list[CheckResult]:
    """Every ledger id in Jaeger and Elasticsearch.

    Trace presence is asked in Jaeger's span store when the target names it
    (``jaeger.span_store``; a sample's span trees then through Jaeger's API), else through
    Jaeger's API (:func:`~assertions.checks.traces.check_traces`).

        Outside fault windows every trace must hold the gateway and its downstream service.
        Inside them (plus a grace for the spans a killed process still had buffered) only the
        gateway span is promised: a fault may take the downstream telemetry with it.
        The lag these checks see is only an upper bound (they poll after the load), so it is
        left to the live ``*.ingest_lag`` checks; ``latency_s`` is cleared here.
        With ``progress`` each check shows the ids found so far while it polls
        (:mod:`chaosgate.run.check_progress`).
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
    traces_s = target.deadlines.traces_s
    span_store = span_store_of(backends)

    def shown(
        label: str, poll: Callable[[FoundCallback | None], CheckResult]
    ) -> Callable[[], list[CheckResult]]:
        def judge() -> list[CheckResult]:
            with found_progress(progress, label) as on_progress:
                return [poll(on_progress)]

        return judge

    checks = judged(
        ["traces.completeness"],
        shown(
            "traces",
            lambda seen: check_traces(
                outside,
                backend=backends.jaeger,
                span_store=span_store,
                deadline_s=traces_s,
                on_progress=seen,
                **common,
            ),
        ),
    )
    if inside:
        if _backend_failed(checks[0]):
            checks.append(_not_polled("traces.completeness.in_faults", checks[0], traces_s))
        else:
            in_faults = judged(
                ["traces.completeness"],
                shown(
                    "traces in fault windows",
                    lambda seen: check_traces(
                        inside,
                        backend=backends.jaeger,
                        span_store=span_store,
                        deadline_s=traces_s,
                        downstream_by_prefix={},
                        on_progress=seen,
                        **common,
                    ),
                ),
            )
            checks += [replace(c, name="traces.completeness.in_faults") for c in in_faults]
    checks += judged(
        ["logs.trace_id.completeness"],
        shown(
            "logs",
            lambda seen: check_logs(
                entries,
                backend=backends.elasticsearch,
                deadline_s=target.deadlines.logs_s,
                field=target.elasticsearch.trace_id_field,
                timestamp_field=target.elasticsearch.timestamp_field,
                on_progress=seen,
                **common,
            ),
        ),
    )
    return [replace(check, latency_s=None) for check in checks]


def _not_polled(name: str, failed: CheckResult, deadline_s: float) -> CheckResult:
    """``name``, not polled because its backend was still failing when ``failed`` gave up."""
    errors = failed.evidence.get("errors") or ["unknown"]
    return CheckResult(
        name,
        Status.ERROR,
        failed.expected,
        None,
        reason=f"not polled: the backend was still failing when {failed.name} gave up after "
        f"{deadline_s:g} s: {errors[-1]}",
        evidence={"backend_failed": True, "errors": list(errors)[-5:]},
    )
