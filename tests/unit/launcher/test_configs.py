from __future__ import annotations

import configparser
from pathlib import Path

import yaml

from refstack.launcher.configs import (
    alertmanager_config,
    jaeger_config,
    prometheus_config,
    rsyslog_config,
)
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import resolve_ports
from refstack.launcher.stores import ELASTICSEARCH
from refstack.launcher.supervisor import Program, render_supervisord_conf

PORTS = resolve_ports({"CHAOSGATE_PORT_STORE": "19200", "CHAOSGATE_PORT_SINK": "19095"})


def _layout(tmp_path: Path) -> StackLayout:
    return StackLayout.from_env(
        {"CHAOSGATE_STACK_DIR": str(tmp_path), "CHAOSGATE_CACHE": str(tmp_path)}
    )


def test_jaeger_stores_in_opensearch_on_the_configured_ports() -> None:
    config = yaml.safe_load(jaeger_config(PORTS))
    backend = config["extensions"]["jaeger_storage"]["backends"]["span_store"]["opensearch"]
    assert backend["server_urls"] == ["http://127.0.0.1:19200"]
    assert config["extensions"]["jaeger_query"]["http"]["endpoint"] == "127.0.0.1:16686"
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["http"]["endpoint"] == "127.0.0.1:4318"
    assert protocols["grpc"]["endpoint"] == "127.0.0.1:4317"
    assert config["exporters"]["jaeger_storage_exporter"]["trace_storage"] == "span_store"


def test_jaeger_stores_in_elasticsearch_with_its_own_backend_kind() -> None:
    config = yaml.safe_load(jaeger_config(PORTS, ELASTICSEARCH))
    backends = config["extensions"]["jaeger_storage"]["backends"]["span_store"]
    assert list(backends) == ["elasticsearch"]
    assert backends["elasticsearch"]["server_urls"] == ["http://127.0.0.1:19200"]
    assert config["extensions"]["jaeger_query"]["storage"]["traces"] == "span_store"


def test_prometheus_scrapes_every_service_each_second(tmp_path: Path) -> None:
    config = yaml.safe_load(prometheus_config(PORTS, tmp_path / "rules.yml"))
    assert config["global"]["scrape_interval"] == "1s"
    assert config["global"]["evaluation_interval"] == "1s"
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in config["scrape_configs"]
    }
    assert jobs["users"] == ["127.0.0.1:8082"]
    assert jobs["node"] == ["127.0.0.1:9100"]
    assert config["rule_files"] == [str(tmp_path / "rules.yml")]


def test_alertmanager_pages_the_sinks_webhook_with_resolved() -> None:
    """The whole design is tests/unit/launcher/test_alerting.py; configs re-exports it."""
    config = yaml.safe_load(alertmanager_config(PORTS, Path("/state/run/sink-token")))
    assert config["route"]["group_wait"] == "1s"
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    hook = receivers["oncall"]["webhook_configs"][0]
    assert hook == {
        "url": "http://127.0.0.1:19095/alerts",
        "send_resolved": True,
        "http_config": {
            "authorization": {"type": "Bearer", "credentials_file": "/state/run/sink-token"}
        },
    }


def test_rsyslog_ships_service_logs_without_a_type(tmp_path: Path) -> None:
    text = rsyslog_config(PORTS, _layout(tmp_path))
    assert f'file="{tmp_path}/service-logs/*.log"' in text
    assert 'serverport="19200"' in text
    assert 'searchType=""' in text
    assert 'useRawMsg="on"' in text


def test_supervisord_conf_parses_and_escapes(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    program = Program(
        name="users",
        command=["/bin/sh", "-c", "echo 100% ready"],
        env={"A": 'say "hi"', "B": "50%"},
    )
    text = render_supervisord_conf(layout, [program])
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    section = parser["program:users"]
    assert section["autostart"] == "false"
    assert section["autorestart"] == "true"
    assert section["command"] == "/bin/sh -c 'echo 100%% ready'"
    assert section["environment"] == 'A="say \\"hi\\"",B="50%%"'
    assert parser["unix_http_server"]["file"] == str(tmp_path / "run" / "supervisor.sock")
