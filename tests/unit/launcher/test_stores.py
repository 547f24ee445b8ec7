"""The store choice (`stack up --logs opensearch|elasticsearch`): the part, its build, the
configs that write into it, the record that remembers it, and a running stack of the other
store refused."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import httpx
import pytest

from refstack.launcher.builds import (
    SYSTEM_BINARIES,
    BuildError,
    BuildOutputs,
    ensure_builds,
    inputs_hash,
)
from refstack.launcher.configs import rsyslog_config, write_configs
from refstack.launcher.health import PartRow
from refstack.launcher.launcher import stack_up
from refstack.launcher.layout import StackLayout
from refstack.launcher.parts import build_parts
from refstack.launcher.ports import resolve_ports
from refstack.launcher.record import StackError, StackRecord, read_record
from refstack.launcher.stores import ELASTICSEARCH, OPENSEARCH, STORES, LogStore, store_named

REPO = Path(__file__).resolve().parents[3]
PORTS = resolve_ports({"CHAOSGATE_PORT_STORE": "19200", "CHAOSGATE_PORT_STORE_TRANSPORT": "19300"})


def _layout(tmp_path: Path) -> StackLayout:
    return StackLayout.from_env(
        {
            "CHAOSGATE_HOME": str(REPO),
            "CHAOSGATE_STACK_DIR": str(tmp_path / "state"),
            "CHAOSGATE_CACHE": str(tmp_path / "cache"),
        }
    )


def test_a_store_is_found_by_name_and_an_unknown_one_names_the_choices() -> None:
    assert store_named("elasticsearch") is ELASTICSEARCH
    assert set(STORES) == {"opensearch", "elasticsearch"}
    with pytest.raises(ValueError, match="'solr'; choose one of: opensearch, elasticsearch"):
        store_named("solr")


@pytest.mark.parametrize("store", [OPENSEARCH], ids=lambda s: s.name)
def test_the_store_part_runs_its_own_launcher_on_the_store_ports(
    tmp_path: Path, store: LogStore
) -> None:
    layout = _layout(tmp_path)
    build = tmp_path / f"{store.name}-build"
    builds = BuildOutputs(
        jaeger_binary=tmp_path / "jaeger", store_dirs={store.name: build}, results=()
    )
    binaries = {name: tmp_path / name for name in SYSTEM_BINARIES}
    configs = write_configs(layout, PORTS, store=store)
    parts = build_parts(layout, PORTS, builds, binaries, configs, store=store)
    first = parts[0]
    assert first.name == store.name  # first: Jaeger and rsyslog write into it
    command = first.program.command
    assert command[command.index("-cp") + 1] == f"{build / store.jar}:{build / 'lib'}/*"
    assert store.main_class in command
    assert command[command.index("--http.port") + 1] == "19200"
    assert command[command.index("--transport.port") + 1] == "19300"
    assert command[command.index("--path.data") + 1] == str(layout.data_dir / store.name / "data")
    assert first.health_url == "http://127.0.0.1:19200/_cluster/health"
    other = ({"opensearch", "elasticsearch"} - {store.name}).pop()
    assert other not in {part.name for part in parts}


def test_parts_of_a_store_that_was_not_built_are_refused(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    builds = BuildOutputs(
        jaeger_binary=tmp_path / "jaeger", store_dirs={"opensearch": tmp_path}, results=()
    )
    binaries = {name: tmp_path / name for name in SYSTEM_BINARIES}
    configs = write_configs(layout, PORTS)
    with pytest.raises(BuildError, match=r"Elasticsearch 7\.17\.29 launcher was not built"):
        build_parts(layout, PORTS, builds, binaries, configs, store=ELASTICSEARCH)


def test_rsyslog_ships_to_the_store_port_whichever_store_runs(tmp_path: Path) -> None:
    text = rsyslog_config(PORTS, _layout(tmp_path))
    assert 'type="omelasticsearch" server="127.0.0.1" serverport="19200"' in text
    assert 'searchType=""' in text  # a typeless bulk: OpenSearch 2 refuses a _type


def _cached_build(layout: StackLayout, name: str, inputs: list[str], output: str) -> Path:
    """Plant the cache entry a build of refstack/<name>/ would leave (``output`` is its name
    with {key}), so ensure_builds must find it rather than run Maven or Go."""
    src = layout.refstack_src / name
    files = [path for pattern in inputs for path in src.glob(pattern) if path.is_file()]
    planted = layout.cache_dir / output.format(key=inputs_hash(files, src))
    planted.parent.mkdir(parents=True, exist_ok=True)
    return planted


def test_the_default_store_s_build_is_found_in_the_cache(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    inputs = ["opensearch/pom.xml", "opensearch/src/**/*", "store-node/src/**/*"]
    out = _cached_build(layout, "", inputs, "opensearch-{key}")  # "": the key's root is refstack/
    out.mkdir()
    (out / OPENSEARCH.jar).write_text("jar")
    _cached_build(layout, "jaeger", ["go.mod", "go.sum"], "bin/jaeger-{key}").write_text("go")
    outputs = ensure_builds(layout)
    assert dict(outputs.store_dirs) == {"opensearch": out}
    assert not any(result.built for result in outputs.results)


def test_a_store_whose_launcher_is_not_in_the_checkout_is_refused(tmp_path: Path) -> None:
    # a checkout whose refstack/ has Jaeger and OpenSearch but no elasticsearch/ folder
    home = tmp_path / "checkout"
    (home / "refstack" / "jaeger").mkdir(parents=True)
    for name in ("go.mod", "go.sum"):
        shutil.copy2(REPO / "refstack" / "jaeger" / name, home / "refstack" / "jaeger" / name)
    layout = StackLayout.from_env(
        {
            "CHAOSGATE_HOME": str(home),
            "CHAOSGATE_STACK_DIR": str(tmp_path / "state"),
            "CHAOSGATE_CACHE": str(tmp_path / "cache"),
        }
    )
    _cached_build(layout, "jaeger", ["go.mod", "go.sum"], "bin/jaeger-{key}").write_text("go")
    with pytest.raises(BuildError, match=r"Elasticsearch 7\.17\.29 launcher is not in this"):
        ensure_builds(layout, stores=(ELASTICSEARCH,))


def test_the_record_remembers_the_store_and_an_older_record_means_opensearch(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stack.json"
    rows = [PartRow("elasticsearch", "http://127.0.0.1:19200", "")]
    StackRecord({"store": 19200}, 1, 0.0, rows, store="elasticsearch").save(path)
    assert StackRecord.load(path).store == "elasticsearch"
    path.write_text(path.read_text().replace('"store": "elasticsearch"', '"other": 1'))
    assert StackRecord.load(path).store == "opensearch"


def test_a_running_stack_of_the_other_store_is_refused(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    layout.ensure_dirs()
    # this process stands in for supervisord: the record says a stack with OpenSearch runs
    StackRecord(dict(PORTS), os.getpid(), time.time(), [], store="opensearch").save(
        layout.record_file
    )
    assert read_record(layout) is not None
    with (
        httpx.Client() as http,
        pytest.raises(StackError, match="opensearch as its store is already running"),
    ):
        stack_up(layout, PORTS, http, report=lambda _line: None, store=ELASTICSEARCH)
