"""Alertmanager as the platform designs it: the local stack's rendered config and the reference
in manifests/alertmanager/ are the same route tree, groupings, receivers and inhibitions,
which Alertmanager's own amtool accepts and routes as designed; every delivery to chaosgate's
receivers carries their token, named by its file and never written in the config."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosgate.receivers.credential import read_token_file
from refstack.launcher.alerting import alertmanager_config
from refstack.launcher.configs import write_configs
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import resolve_ports

REPO = Path(__file__).resolve().parents[3]
REFERENCE = REPO / "manifests" / "alertmanager" / "alertmanager.yml"
PORTS = resolve_ports({"CHAOSGATE_PORT_SINK": "19095", "CHAOSGATE_PORT_SMTP": "19025"})
TOKEN_FILE = Path("/state/run/sink-token")
BEARER = {"authorization": {"type": "Bearer", "credentials_file": "/state/run/sink-token"}}
# what a deployment replaces: where each integration delivers, and how it authenticates
ENDPOINT_KEYS = frozenset(
    {
        "api_url", "api_url_file", "url", "url_file", "smarthost", "require_tls", "tls_config",
        "http_config",
    }
)  # fmt: skip
AMTOOL = shutil.which("amtool")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None,
    reason="amtool is not installed (Debian package prometheus-alertmanager; "
    "scripts/bootstrap installs it)",
)


def _local() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(alertmanager_config(PORTS, TOKEN_FILE))
    return config


def _reference() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(REFERENCE.read_text())
    return config


def _without_endpoints(config: dict[str, Any]) -> dict[str, Any]:
    receivers = [
        {
            key: value
            if not key.endswith("_configs")
            else [
                {
                    k: v
                    for k, v in integration.items()
                    if k not in ENDPOINT_KEYS and not k.startswith("auth_")
                }
                for integration in value
            ]
            for key, value in receiver.items()
        }
        for receiver in config["receivers"]
    ]
    return {**config, "receivers": receivers}


def test_critical_pages_oncall_on_all_three_integrations_warning_goes_to_the_team() -> None:
    config = _local()
    assert config["route"] == {
        "receiver": "team-slack",
        "group_by": ["alertname", "service"],
        "group_wait": "1s",
        "group_interval": "5s",
        "repeat_interval": "1h",
        "routes": [
            {"receiver": "oncall", "matchers": ['severity="critical"']},
            {"receiver": "team-slack", "matchers": ['severity="warning"']},
        ],
    }
    oncall, team = config["receivers"]
    assert oncall == {
        "name": "oncall",
        "slack_configs": [
            {
                "api_url": "http://127.0.0.1:19095/slack",
                "channel": "#restaurant-oncall",
                "send_resolved": True,
                "http_config": BEARER,
            }
        ],
        "email_configs": [
            {
                "to": "oncall@restaurant.example",
                "from": "alertmanager@restaurant.example",
                "smarthost": "127.0.0.1:19025",
                "require_tls": False,
                "auth_username": "alertmanager",
                "auth_password_file": "/state/run/sink-token",
                "send_resolved": True,
            }
        ],
        "webhook_configs": [
            {"url": "http://127.0.0.1:19095/alerts", "send_resolved": True, "http_config": BEARER}
        ],
    }
    assert team == {
        "name": "team-slack",
        "slack_configs": [
            {
                "api_url": "http://127.0.0.1:19095/slack",
                "channel": "#restaurant-alerts",
                "send_resolved": True,
                "http_config": BEARER,
            }
        ],
    }


def test_a_symptom_is_inhibited_while_its_cause_pages() -> None:
    assert _local()["inhibit_rules"] == [
        {
            "source_matchers": ['alertname=~"UsersServiceDown|IoTServiceDown"'],
            "target_matchers": ['alertname=~"UsersServiceHighErrorRate|IoTServiceHighErrorRate"'],
            "equal": ["service"],
        },
        {
            "source_matchers": ['alertname="DatabasePoolExhausted"'],
            "target_matchers": ['alertname=~"DatabaseTooManyConnections|OrderFailuresHigh"'],
            "equal": ["service"],
        },
        {
            "source_matchers": ['alertname="PodCrashLooping"'],
            "target_matchers": ['alertname="PodRestartingOften"'],
            "equal": ["service"],
        },
        {
            "source_matchers": [
                'alertname=~"UsersServiceDown|IoTServiceDown|DatabasePoolExhausted"'
            ],
            "target_matchers": [
                'alertname=~"GatewayHighErrorRate|GatewayHighLatency|NetworkHighErrorRate"'
            ],
        },
    ]


def test_every_inhibited_and_inhibiting_alert_is_a_rule_of_the_platform() -> None:
    rules = yaml.safe_load((REPO / "refstack" / "prometheus" / "rules.yml").read_text())
    names = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    for rule in _local()["inhibit_rules"]:
        for matcher in rule["source_matchers"] + rule["target_matchers"]:
            alternatives = matcher.partition('"')[2].rstrip('"').split("|")
            assert set(alternatives) <= names, matcher


def test_the_reference_is_the_local_design_with_other_endpoints() -> None:
    assert _without_endpoints(_reference()) == _without_endpoints(_local())
    # and the endpoints do differ: the reference is not the local stack's file
    reference_slack = _reference()["receivers"][0]["slack_configs"][0]
    assert "api_url" not in reference_slack and reference_slack["api_url_file"]
    assert _reference()["receivers"][0]["email_configs"][0]["smarthost"] == "smtp.example.com:587"


def test_the_reference_delivers_to_the_sink_with_its_token_file() -> None:
    """The sink (webhook) refuses what lacks its token; real Slack takes its URL as secret."""
    (hook,) = _reference()["receivers"][0]["webhook_configs"]
    assert hook["http_config"] == {
        "authorization": {
            "type": "Bearer",
            "credentials_file": "/etc/alertmanager/secrets/notification-sink-token",
        }
    }
    assert "notification-sink" in hook["url"]
    for receiver in _reference()["receivers"]:
        for slack in receiver.get("slack_configs", []):
            assert "http_config" not in slack and "api_url" not in slack


def test_the_reference_gives_each_inhibit_rule_its_reason() -> None:
    lines = REFERENCE.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip().startswith("- source_matchers")]
    assert len(starts) == len(_reference()["inhibit_rules"]) == 4
    for start in starts:
        assert lines[start - 1].strip().startswith("#"), f"no reason above line {start + 1}"


def _layout(tmp_path: Path) -> StackLayout:
    return StackLayout.from_env(
        {
            "CHAOSGATE_HOME": str(REPO),
            "CHAOSGATE_STACK_DIR": str(tmp_path),
            "CHAOSGATE_CACHE": str(tmp_path),
        }
    )


def test_write_configs_renders_the_design(tmp_path: Path) -> None:
    layout = _layout(tmp_path)
    paths = write_configs(layout, PORTS)
    assert paths.sink_token == tmp_path / "run" / "sink-token"
    assert paths.alertmanager.read_text() == alertmanager_config(PORTS, paths.sink_token)
    # the config names the token's file; the token (0600, random) is in no config
    assert str(paths.sink_token) in paths.alertmanager.read_text()
    assert stat.S_IMODE(paths.sink_token.stat().st_mode) == 0o600
    token = paths.sink_token.read_text()
    read_token_file(paths.sink_token)  # a token the receivers accept
    for config in layout.config_dir.iterdir():
        assert token not in config.read_text(), config
    assert write_configs(layout, PORTS).sink_token.read_text() != token  # new at every up


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, check=False, timeout=60)


def _both(tmp_path: Path) -> list[Path]:
    """The file ``stack up`` writes (with its real token file) and the reference."""
    return [write_configs(_layout(tmp_path), PORTS).alertmanager, REFERENCE]


@needs_amtool
@pytest.mark.tools
def test_amtool_accepts_both_configs(tmp_path: Path) -> None:
    for path in _both(tmp_path):
        proc = _amtool("check-config", str(path))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "4 inhibit rules" in proc.stdout and "2 receivers" in proc.stdout


@needs_amtool
@pytest.mark.parametrize(
    ("labels", "receiver"),
    [
        (["alertname=UsersServiceDown", "service=users", "severity=critical"], "oncall"),
        (["alertname=GatewayHighLatency", "service=gateway", "severity=warning"], "team-slack"),
        (["alertname=Watchdog"], "team-slack"),
    ],
    ids=["critical", "warning", "no-severity"],
)
@pytest.mark.tools
def test_amtool_routes_by_severity(tmp_path: Path, labels: list[str], receiver: str) -> None:
    for path in _both(tmp_path):
        proc = _amtool(
            "config", "routes", "test", f"--config.file={path}", f"--verify.receivers={receiver}",
            *labels,
        )  # fmt: skip
        assert proc.returncode == 0, f"{path}: {proc.stdout}{proc.stderr}"
        assert proc.stdout.strip() == receiver
