"""``chaosgate verify --ledger DIR`` through typer's CliRunner on an app of its own, against
Jaeger, its span store and the log store faked behind one pytest-httpserver."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
import typer
from pytest_httpserver import HTTPServer
from typer.testing import CliRunner
from werkzeug import Request, Response

from chaosgate.cli_verify import parse_moment, verify_command
from chaosgate.vocabulary import LedgerEntry
from tests.unit.assertions.fake_backends import FakeElasticsearch, FakeJaeger
from tests.unit.assertions.fake_span_store import FakeSpanStore
from tests.unit.assertions.support import entry

FULL = ["gateway", "orders"]
ENTRIES = [entry(n, started_at=1_796_321_000.0 + 10 * n) for n in range(1, 6)]

app = typer.Typer()
app.command("verify")(verify_command)
app.command("unused")(lambda: None)  # two commands: `verify` stays a sub-command


class Backends:
    """Jaeger, its span store and the log store, routed by path; each a MockTransport-style
    handler from the assertions' fakes. ``gateway_only``: traces without their downstream span."""

    def __init__(
        self, traced: list[str], logged: list[str], gateway_only: frozenset[str] = frozenset()
    ) -> None:
        services = {t: ["gateway"] if t in gateway_only else FULL for t in traced}
        self.jaeger = FakeJaeger(services)
        self.spans = FakeSpanStore()
        for e in ENTRIES:
            if e.trace_id in traced:
                self.spans.add(e.trace_id, services[e.trace_id], e.started_at)
        self.logs = FakeElasticsearch(
            [
                {"trace_id": e.trace_id, "request_id": e.request_id, "service": "gateway",
                 "@timestamp": "x", "@timestamp_ms": e.started_at * 1000}
                for e in ENTRIES
                if e.trace_id in logged
            ]
        )  # fmt: skip

    def __call__(self, request: Request) -> Response:
        as_httpx = httpx.Request(
            request.method, request.url, headers=dict(request.headers), content=request.get_data()
        )
        path = request.path
        handler = (
            self.spans
            if path.startswith("/jaeger-jaeger-span-")
            else self.logs
            if path.startswith("/restaurant-logs-")
            else self.jaeger
        )
        answer = handler(as_httpx)
        return Response(answer.content, answer.status_code, content_type="application/json")


def serve(httpserver: HTTPServer, backends: Backends) -> None:
    httpserver.expect_request("").respond_with_handler(backends)


def target_file(tmp_path: Path, url: str, *, span_store: bool = True) -> Path:
    store = f', span_store: {{url: "{url}", index: "jaeger-jaeger-span-*"}}' if span_store else ""
    path = tmp_path / "faked.yaml"
    path.write_text(
        f"gateway_url: http://127.0.0.1:1\n"
        f'jaeger: {{query_url: "{url}"{store}}}\n'
        f'elasticsearch: {{url: "{url}"}}\n'
        "chaos: local\n"
    )
    return path


def ledger_dir(tmp_path: Path, entries: Sequence[LedgerEntry] = ENTRIES) -> Path:
    directory = tmp_path / "ledger"
    directory.mkdir()
    (directory / "ledger-host-1.jsonl").write_text("".join(e.to_json() + "\n" for e in entries))
    return directory


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["verify", *args])
    return result.exit_code, result.stdout, result.stderr


def test_all_found_passes_with_the_span_store_answering(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    ids = [e.trace_id for e in ENTRIES]
    backends = Backends(traced=ids, logged=ids)
    serve(httpserver, backends)
    out_json = tmp_path / "checks.json"
    code, out, err = invoke(
        "--ledger", str(ledger_dir(tmp_path)), "--target",
        str(target_file(tmp_path, httpserver.url_for("/").rstrip("/"))),
        "--deadline", "0", "--json", str(out_json),
    )  # fmt: skip
    assert code == 0, out + err
    assert "passed  traces.completeness (5/5 found; answered by span store)" in out
    assert "passed  logs.trace_id.completeness (5/5 found)" in out
    assert "passed  logs.request_id.completeness (5/5 found)" in out
    written = json.loads(out_json.read_text())
    assert [c["name"] for c in written] == [
        "traces.completeness", "logs.trace_id.completeness", "logs.request_id.completeness",
    ]  # fmt: skip
    assert written[0]["evidence"]["span_tree_sample"]["checked_by"] == "jaeger api"
    assert len(backends.spans.searches) == 1


def test_a_missing_trace_exits_1_through_jaegers_api_without_a_span_store(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    ids = [e.trace_id for e in ENTRIES]
    serve(httpserver, Backends(traced=ids[:-1], logged=ids))
    code, out, _ = invoke(
        "--ledger", str(ledger_dir(tmp_path)), "--deadline", "0", "--target",
        str(target_file(tmp_path, httpserver.url_for("/").rstrip("/"), span_store=False)),
    )  # fmt: skip
    assert code == 1
    assert "failed  traces.completeness (4/5 found; answered by jaeger api)" in out


def test_since_and_until_select_the_requests(tmp_path: Path, httpserver: HTTPServer) -> None:
    ids = [e.trace_id for e in ENTRIES]
    serve(httpserver, Backends(traced=ids[:2], logged=ids[:2]))  # only the first two
    url = httpserver.url_for("/").rstrip("/")
    common = ["--ledger", str(ledger_dir(tmp_path)), "--deadline", "0"]
    code, out, err = invoke(*common, "--target", str(target_file(tmp_path, url)))
    assert code == 1, out + err  # all five: three are missing
    code, out, err = invoke(
        *common, "--target", str(target_file(tmp_path, url)),
        "--since", "2026-12-03T00:00:00", "--until", str(ENTRIES[1].started_at),
    )  # fmt: skip
    assert code == 0, out + err
    assert "verifying 2 requests" in out


def test_a_runs_fault_windows_judge_the_requests_inside_on_their_gateway_span(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    ids = [e.trace_id for e in ENTRIES]
    touched = frozenset(ids[2:4])  # the fault took their downstream spans with it
    serve(httpserver, Backends(traced=ids, logged=ids, gateway_only=touched))
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    ledger = ledger_dir(run_dir)
    url = httpserver.url_for("/").rstrip("/")
    args = ["--ledger", str(ledger), "--deadline", "0", "--target", str(target_file(tmp_path, url))]
    code, out, _ = invoke(*args)  # no summary: every request judged outside faults
    assert code == 1 and "failed  traces.completeness (3/5 found" in out
    fault = {
        "experiment": "kill-orders", "started_at": 0.0, "inject_at": ENTRIES[2].started_at,
        "rollback_at": ENTRIES[3].started_at, "ended_at": None, "status": "completed",
    }  # fmt: skip
    summary = {"timeline": [{"kind": "inject"}, {"fault_window": fault}], "load": {"ended_at": 1}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    code, out, err = invoke(*args)
    assert code == 0, out + err
    assert "1 fault windows from" in out
    assert "passed  traces.completeness (3/3 found" in out
    assert "passed  traces.completeness.in_faults (2/2 found" in out
    (run_dir / "summary.json").write_text("{broken")
    code, _, err = invoke(*args)
    assert code == 2 and "cannot be read as JSON" in err


def test_times_are_unix_seconds_or_iso_8601_in_utc_unless_zoned() -> None:
    assert parse_moment("1796321797.5", "--since") == 1796321797.5
    assert parse_moment("2026-12-03T17:36:37.5", "--since") == 1796319397.5
    assert parse_moment("2026-12-03T18:36:37.5+01:00", "--since") == 1796319397.5


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        ("none", [], "does not exist"),
        ("empty", [], "holds no ledger-*.jsonl file"),
        ("garbled", [], "line 1 is not an entry"),
        ("ledger", ["--since", "yesterday"], "--since 'yesterday' is not a time"),
        ("ledger", ["--since", "5", "--until", "4"], "--until (4) is before --since (5)"),
        ("ledger", ["--until", "5"], "no request of the ledger started within"),
        ("ledger", ["--target", "missing.yaml"], "missing.yaml"),
    ],
)
def test_bad_input_is_exit_2_with_one_line(
    tmp_path: Path, setup: str, args: list[str], message: str
) -> None:
    directory = tmp_path / "ledger"
    if setup == "empty":
        directory.mkdir()
    elif setup == "garbled":
        directory.mkdir()
        (directory / "ledger-h-1.jsonl").write_text("{not json\n")
    elif setup == "ledger":
        ledger_dir(tmp_path)
    code, _, err = invoke("--ledger", str(directory), *args)
    assert code == 2
    assert err.startswith("chaosgate: error: ") and err.count("\n") == 1
    assert message in err
