"""chaosgate inside the local cluster for real: `chaosgate stack suite` deploys the suite
(manifests/overlays/local-suite), whose gate Job runs a gate as ServiceAccount chaosgate-runner
with the locust-worker pods as its Locust workers; its verdict is the Job's status and its
logs. Then the nightly CronJob's own schedule starts a run (a schedule a minute away, the smoke
profile so that it ends in minutes). Long: the gate alone takes ~9 minutes (`scripts/nightly`).
"""

from __future__ import annotations

import csv
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from refstack.launcher.k8s_parts import k8s_files
from refstack.launcher.k8s_suite import GATE_JOB, NIGHTLY_CRONJOB, SUITE_NAMESPACE, stack_suite
from tests.integration.k8s.conftest import K8sStack

pytestmark = [pytest.mark.integration, pytest.mark.k8s, pytest.mark.long]

NS = f"--namespace={SUITE_NAMESPACE}"


def _kubectl_json(stack: K8sStack, *args: str) -> dict[str, Any]:
    proc = stack.run(*args, "-o", "json", NS)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _finished(job: dict[str, Any]) -> str | None:
    for condition in job.get("status", {}).get("conditions", []):
        if condition["type"] in ("Complete", "Failed") and condition["status"] == "True":
            return str(condition["type"])
    return None


def _wait_for_job(stack: K8sStack, name: str, timeout_s: float) -> tuple[str, dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = _kubectl_json(stack, "get", "job", name)
        state = _finished(job)
        if state is not None:
            return state, job
        time.sleep(5)
    pods = stack.run("get", "pods", NS, "-o", "wide").stdout
    raise AssertionError(f"job {name} did not finish within {timeout_s:.0f} s; pods:\n{pods}")


def _job_pod(stack: K8sStack, job: str) -> dict[str, Any]:
    pods = _kubectl_json(stack, "get", "pods", f"--selector=job-name={job}")["items"]
    assert len(pods) == 1, [p["metadata"]["name"] for p in pods]
    pod: dict[str, Any] = pods[0]
    return pod


def _summary(stack: K8sStack, pod: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """The run's summary.json, read from the pod's reports emptyDir on the node."""
    volume = k8s_files(stack.layout).node_state / "pods" / pod["metadata"]["uid"] / "volumes"
    summaries = sorted((volume / "reports").glob("*/summary.json"))
    assert len(summaries) == 1, f"no single run folder under {volume / 'reports'}"
    result: dict[str, Any] = json.loads(summaries[0].read_text())
    return result, summaries[0].parent


def _locust_requests(run_dir: Path) -> int:
    with (run_dir / "locust" / "locust_stats.csv").open() as stats:
        (total,) = [row for row in csv.DictReader(stats) if row["Name"] == "Aggregated"]
    return int(total["Request Count"])


def _check(summary: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [c for c in summary["checks"] if c["name"] == name]
    assert len(found) == 1, [c["name"] for c in summary["checks"]]
    return found[0]


def _logs(stack: K8sStack, job: str) -> str:
    proc = stack.run("logs", f"job/{job}", NS, timeout_s=60)
    assert proc.returncode == 0, f"kubectl logs job/{job}: {proc.stderr}"
    return proc.stdout


def test_the_gate_job_runs_a_gate_inside_the_cluster(k8s_stack: K8sStack) -> None:
    started = time.monotonic()
    print(stack_suite(k8s_stack.layout, timeout_s=300))
    state, _ = _wait_for_job(k8s_stack, GATE_JOB, timeout_s=1500)
    wall_s = time.monotonic() - started
    pod = _job_pod(k8s_stack, GATE_JOB)
    summary, run_dir = _summary(k8s_stack, pod)
    logs = _logs(k8s_stack, GATE_JOB)
    print(f"gate Job: {state} after {wall_s:.0f} s; verdict {summary['verdict']}")
    print(logs[-3000:])
    assert summary["settings"]["profile"]["name"] == "gate"
    assert (state, summary["verdict"]) == ("Complete", "passed"), summary["failed_checks"]
    assert pod["spec"]["serviceAccountName"] == "chaosgate-runner"
    workers = _check(summary, "load.workers")
    assert workers["status"] == "passed" and workers["observed"]["workers"] == 2, workers
    # every request Locust counted is in the master's ledger: the workers' entries arrived
    assert workers["observed"]["received"] == _locust_requests(run_dir)
    assert summary["run_id"] in logs and "passed" in logs


def test_the_nightly_cronjobs_schedule_starts_a_run(k8s_stack: K8sStack) -> None:
    """Unsuspended with a schedule a minute away, and the smoke profile for time."""
    cron = _kubectl_json(k8s_stack, "get", "cronjob", NIGHTLY_CRONJOB)
    command = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"]
    profile_at = command.index("--profile") + 1
    at = datetime.now(UTC) + timedelta(minutes=2 if datetime.now(UTC).second > 40 else 1)
    patch = [
        {"op": "replace", "path": "/spec/schedule", "value": f"{at.minute} {at.hour} * * *"},
        {"op": "replace", "path": "/spec/suspend", "value": False},
        {
            "op": "replace",
            "path": f"/spec/jobTemplate/spec/template/spec/containers/0/command/{profile_at}",
            "value": "smoke",
        },
    ]
    proc = k8s_stack.run(
        "patch", "cronjob", NIGHTLY_CRONJOB, NS, "--type=json", f"--patch={json.dumps(patch)}"
    )
    assert proc.returncode == 0, proc.stderr
    try:
        deadline = time.monotonic() + 200
        jobs: list[dict[str, Any]] = []
        while not jobs and time.monotonic() < deadline:
            time.sleep(5)
            jobs = [
                j
                for j in _kubectl_json(k8s_stack, "get", "jobs")["items"]
                if any(
                    o["name"] == NIGHTLY_CRONJOB for o in j["metadata"].get("ownerReferences", [])
                )
            ]
        assert jobs, f"the CronJob started no Job by {at:%H:%M} UTC"
        name = jobs[0]["metadata"]["name"]
        state, _ = _wait_for_job(k8s_stack, name, timeout_s=600)
    finally:
        k8s_stack.run(
            "patch",
            "cronjob",
            NIGHTLY_CRONJOB,
            NS,
            "--type=merge",
            '--patch={"spec":{"suspend":true}}',
        )
    summary, _ = _summary(k8s_stack, _job_pod(k8s_stack, name))
    assert summary["settings"]["profile"]["name"] == "smoke"
    assert (state, summary["verdict"]) == ("Complete", "passed"), summary["failed_checks"]
    assert _check(summary, "load.workers")["status"] == "passed"
