"""From validated inputs to a run: the plan, its printout (``--dry-run``), and its execution."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
import requests
from rich.console import Console

from chaosgate.chaos.experiments import chaosgate_extension, load_experiment
from chaosgate.chaos.k8s_namespaces import ActivityInfo, experiment_activities
from chaosgate.faults.ledger import ProcessRef
from chaosgate.faults.recorder import RunFaults
from chaosgate.faults.target_ledger import target_ledger
from chaosgate.http_clients import new_http_client
from chaosgate.run.backends import build_backends
from chaosgate.run.campaign import RunOutcome, RunPlan, run_campaign
from chaosgate.run.interrupts import Interrupts
from chaosgate.run.profiles import Profile
from chaosgate.run.progress import Progress
from chaosgate.target import Target

__all__ = ["build_plan", "describe_plan", "execute_plan"]


def build_plan(
    target: Target,
    profile: Profile,
    experiments: Sequence[Path],
    reports_dir: Path,
    *,
    command: Sequence[str] = (),
) -> RunPlan:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    run_id = f"{stamp}-{profile.name}-{secrets.token_hex(2)}"
    return RunPlan(
        run_id=run_id,
        run_dir=(reports_dir / run_id).resolve(),
        target=target,
        profile=profile,
        experiments=tuple(experiments),
        command=tuple(command),
    )


def _activity_line(activity: ActivityInfo) -> str:
    namespaces = sorted({use.namespace for use in activity.namespaces})
    where = f" in namespace {', '.join(namespaces)}" if namespaces else ""
    return f"        {activity.where.split('[')[0]}: {activity.name} ({activity.call}){where}"


def _experiment_lines(path: Path) -> list[str]:
    """The experiment's actions (method and rollbacks) with their namespaces, and what it
    expects; read from the file alone (the validate phase has checked it)."""
    experiment = load_experiment(path)
    extension = chaosgate_extension(experiment, source=str(path))
    lines = [f"    - {path.name}: {experiment.get('title', '')}"]
    lines += [
        _activity_line(activity)
        for activity in experiment_activities(experiment, source=str(path))
        if activity.kind == "action"
    ]
    alerts = [
        f"{spec.alertname} {{{', '.join(f'{k}={v}' for k, v in spec.labels.items())}}} "
        f"within {spec.deadline_s:g} s"
        for spec in extension.expected_alerts
    ]
    expects = "; ".join(alerts)
    expects += f", resolved within {extension.resolve_deadline_s:g} s" if alerts else "no alert"
    if extension.keeps_slo:
        expects += "; the steady-state SLO holds during the fault"
    lines.append(f"        expects: {expects}")
    return lines


def _chaos_line(plan: RunPlan) -> str:
    target = plan.target
    if target.chaos != "kubernetes":
        return "  chaos: local (process-level faults on the local stack)"
    k8s = target.kubernetes
    return (
        f"  chaos: kubernetes via {k8s.kubeconfig or '$KUBECONFIG / ~/.kube/config / in-cluster'}"
        f" (context {k8s.context or 'current'}); namespaces allowed: {', '.join(k8s.namespaces)}"
        f"; stress node: {k8s.stress_node or 'as the stress specs say'}"
    )


def _load_processes(p: Profile) -> str:
    """Who sends the load: Locust processes here, or a master and its workers."""
    if not (p.workers or p.expect_workers):
        return f"{p.processes} Locust process(es)"
    sides = [f"{p.workers} local worker(s)"] if p.workers else []
    if p.expect_workers:
        sides.append(f"{p.expect_workers} worker(s) expected at {p.master_bind}")
    return f"a Locust master with {' and '.join(sides)}"


def describe_plan(plan: RunPlan) -> str:
    p = plan.profile
    es = plan.target.elasticsearch
    load = (
        f"  load: {p.users} users, spawn {p.spawn_rate}/s, {p.duration_s} s, "
        f"{', '.join(p.scenarios)}, seed {p.seed}, {_load_processes(p)}"
        if plan.with_load
        else f"  load: none (the faults alone, over {p.duration_s} s)"
    )
    timing = (
        f"  experiments: first fault at +{p.chaos_start_s} s, {p.recovery_s} s between faults"
        if plan.schedule is None
        else "  experiments: at the offsets the replayed run recorded"
    )
    lines = [
        f"run {plan.run_id}: profile {p.name!r} against target {plan.target.name!r}",
        load,
        f"  gateway {plan.target.gateway_url}; Jaeger {plan.target.jaeger.query_url}; "
        f"Elasticsearch {es.url} ({es.index_pattern})",
        _chaos_line(plan),
        timing,
    ]
    for path in plan.experiments:
        lines += _experiment_lines(path)
    if not plan.experiments:
        lines.append("    (no experiments)")
    d = plan.target.deadlines
    lines.append(
        f"  deadlines: traces {d.traces_s:g} s, logs {d.logs_s:g} s, alerts {d.alerts_s:g} s; "
        f"completeness >= {p.completeness:g}"
    )
    lines.append(f"  reports: {plan.run_dir}")
    return "\n".join(lines)


def execute_plan(
    plan: RunPlan, console: Console, *, env: Mapping[str, str] = os.environ
) -> RunOutcome:
    """Run the plan on the main thread, with SIGINT / SIGTERM turned into an interrupted run
    and every fault recorded in the target's fault ledger."""
    es = plan.target.elasticsearch
    timeout = httpx.Timeout(10.0)
    faults = RunFaults(
        target_ledger(plan.target, env),
        run_id=plan.run_id,
        target=plan.target.name,
        runner=ProcessRef.of(os.getpid()),
    )
    interrupts = Interrupts()
    with (
        interrupts.installed(),
        new_http_client(timeout) as http,
        new_http_client(timeout, verify_tls=es.verify_tls) as es_http,
        requests.Session() as session,
    ):
        backends = build_backends(plan.target, http, es_http, session)
        outcome = run_campaign(
            plan, backends, progress=Progress(console), faults=faults, interrupts=interrupts
        )
    console.print(
        f"verdict: [bold]{outcome.verdict}[/] (exit {outcome.exit_code}); "
        f"{sum(1 for c in outcome.checks if c.passed)}/{len(outcome.checks)} checks passed; "
        f"summary: {outcome.summary_path}"
    )
    return outcome
