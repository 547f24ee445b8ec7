"""The completeness checks show the ids found as they poll when given the run's printer, and
judge exactly as without it. Jaeger and Elasticsearch are faked at the transport only."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
from rich.console import Console

from assertions.result import CheckResult
from chaosgate.run.backends import build_backends
from chaosgate.run.judging import completeness_checks
from chaosgate.run.progress import Progress
from chaosgate.run.run_plan import RunPlan
from chaosgate.vocabulary import FaultWindow
from tests.unit.assertions.fake_backends import FakeElasticsearch, FakeJaeger
from tests.unit.assertions.support import entry
from tests.unit.run.plans import smoke_plan, target_at

JAEGER, ES, UNUSED = "http://jaeger.test:16686", "http://es.test:9200", "http://unused.test:1"
ENTRIES = [entry(n, started_at=1000.0 + n) for n in range(1, 9)]  # 1001..1008
WINDOWS = [FaultWindow(1004.5, 1006.0, "kill-users-service")]  # 1003..1008 are inside (2 s grace)
Clients = tuple[httpx.Client, httpx.Client, requests.Session]  # Jaeger's, Elasticsearch's, unused
LOGGED = ENTRIES[:6]  # two requests' log lines never arrive: logs.trace_id.completeness fails


def _plan(tmp_path: Path) -> RunPlan:
    return smoke_plan(target_at(JAEGER, ES, UNUSED, UNUSED, UNUSED, deadline_s=0.3), tmp_path)


@pytest.fixture
def clients() -> Iterator[Clients]:
    jaeger = FakeJaeger({e.trace_id: ["gateway", "orders"] for e in ENTRIES})
    docs = [
        {"trace_id": e.trace_id, "service": "gateway", "@timestamp": "x",
         "@timestamp_ms": e.started_at * 1000}
        for e in LOGGED
    ]  # fmt: skip
    es = FakeElasticsearch(docs)
    with (
        httpx.Client(transport=httpx.MockTransport(jaeger)) as http,
        httpx.Client(transport=httpx.MockTransport(es)) as es_http,
        requests.Session() as session,
    ):
        yield http, es_http, session


def _judge(tmp_path: Path, clients: Clients, progress: Progress | None) -> list[CheckResult]:
    http, es_http, session = clients
    plan = _plan(tmp_path)
    return completeness_checks(
        plan, ENTRIES, WINDOWS, build_backends(plan.target, http, es_http, session),
        progress=progress,
    )  # fmt: skip


def _verdicts(checks: list[CheckResult]) -> list[tuple[str, str, object]]:
    return [(c.name, c.status.value, c.observed) for c in checks]


def test_each_check_shows_its_count_on_a_terminal(tmp_path: Path, clients: Clients) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120, color_system=None)
    shown_checks = _judge(tmp_path, clients, Progress(console))
    shown = out.getvalue()
    assert re.search(r"  traces ━+ 2/2 ids found", shown), shown
    assert re.search(r"  traces in fault windows ━+ 6/6 ids found", shown), shown
    assert re.search(r"  logs ━+ +6/8 ids found", shown), shown
    assert _verdicts(shown_checks) == _verdicts(_judge(tmp_path, clients, None))
    assert [c.status.value for c in shown_checks] == ["passed", "passed", "failed"]


def test_quick_checks_add_no_line_to_a_log(tmp_path: Path, clients: Clients) -> None:
    out = io.StringIO()
    _judge(tmp_path, clients, Progress(Console(file=out, force_terminal=False)))
    assert out.getvalue() == ""  # each polled well under the 10 s between lines
