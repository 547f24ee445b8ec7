"""Target configuration: the built-in ``local``, files, environment overrides, secrets, errors."""

from __future__ import annotations

import base64
import json
import os
import re
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from chaosgate.env_names import SUITE_ENV_PREFIXES, SUITE_ENV_VARS
from chaosgate.target import (
    DEFAULT_LOCAL_K8S_PORTS,
    DEFAULT_LOCAL_PORTS,
    LOCAL_NODE_NAME,
    ElasticsearchAuth,
    ElasticsearchConfig,
    Target,
    TargetError,
    load_target,
    local_k8s_kubeconfig,
    local_k8s_target,
    local_target,
    resolve_target,
)
from chaosgate.target_env import env_leaves

SECRET = "s3cr3t-Hunter2"

FULL_YAML = """\
name: staging
gateway_url: https://gw.example.com:8443/
jaeger:
  query_url: http://jaeger.example.com:16686
elasticsearch:
  url: https://es.example.com:9200/
  index_pattern: app-logs-*
  trace_id_field: traceId
  request_id_field: requestId
  timestamp_field: ts
  auth:
    username: elastic
    password_env: ES_PASSWORD
  verify_tls: false
prometheus:
  url: http://prom.example.com:9090
alertmanager:
  url: http://am.example.com:9093
sink:
  url: http://sink.example.com:9095
kubernetes:
  context: staging-ctx
  kubeconfig: /etc/kube/config
  namespaces: [restaurant, payments]
deadlines:
  traces_s: 20
  logs_s: 25.5
  alerts_s: 45
"""


def write(tmp_path: Path, text: str, name: str = "staging.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_of(spec: str | Path | None, env: Mapping[str, str] | None = None) -> str:
    """The TargetError message for loading ``spec``; checks it is one clean line."""
    with pytest.raises(TargetError) as info:
        load_target(spec, env=env or {})
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert "Traceback" not in message and "ValidationError" not in message
    assert "errors.pydantic.dev" not in message
    assert message[0].islower(), message
    return message


def file_source(path: Path) -> str:
    return f"target file {str(path)!r}"


# --- the built-in target ---


def test_local_target_defaults() -> None:
    target = load_target(None, env={})
    assert target == load_target("local", env={}) == local_target()
    assert target.name == "local"
    assert target.gateway_url == "http://127.0.0.1:8080"
    assert target.jaeger.query_url == "http://127.0.0.1:16686"
    es = target.elasticsearch
    assert es.url == "http://127.0.0.1:9200"
    assert (es.index_pattern, es.trace_id_field, es.request_id_field, es.timestamp_field) == (
        "restaurant-logs-*",
        "trace_id",
        "request_id",
        "@timestamp",
    )
    assert es.auth is None and es.verify_tls is True and es.auth_header() == {}
    assert target.prometheus.url == "http://127.0.0.1:9090"
    assert target.alertmanager.url == "http://127.0.0.1:9093"
    assert target.sink.url == "http://127.0.0.1:9095"
    assert target.kubernetes.namespaces == ("restaurant",)
    assert target.kubernetes.context is None and target.kubernetes.kubeconfig is None
    deadlines = target.deadlines
    assert (deadlines.traces_s, deadlines.logs_s, deadlines.alerts_s) == (30, 30, 30)


def test_default_local_ports_table() -> None:
    assert dict(DEFAULT_LOCAL_PORTS) == {
        "gateway": 8080,
        "jaeger_query": 16686,
        "store": 9200,
        "prometheus": 9090,
        "alertmanager": 9093,
        "sink": 9095,
    }
    # the model's defaults are the same table; only the built-in names the stack's span store
    # (a target file that names none looks every trace up through Jaeger's API)
    assert Target() == local_target().model_copy(
        update={"jaeger": local_target().jaeger.model_copy(update={"span_store": None})}
    )


def test_local_target_with_changed_ports() -> None:
    # the stack's whole port table may be passed: names the target does not use are ignored
    ports = {"gateway": 18080, "jaeger_query": 26686, "sink": 19095, "orders": 8081}
    target = local_target(ports)
    assert target.gateway_url == "http://127.0.0.1:18080"
    assert target.jaeger.query_url == "http://127.0.0.1:26686"
    assert target.sink.url == "http://127.0.0.1:19095"
    assert target.elasticsearch.url == "http://127.0.0.1:9200"
    assert load_target("local", env={}, local_ports=ports) == target


@pytest.mark.parametrize("port", [0, 70000, True])
def test_local_target_bad_port(port: int) -> None:
    with pytest.raises(TargetError) as info:
        local_target({"prometheus": port})
    message = str(info.value)
    assert message.startswith("built-in target 'local': ports.prometheus: ")
    assert repr(port) in message and "1 to 65535" in message


def test_env_overrides_the_builtin_target() -> None:
    env = {"CHAOSGATE_GATEWAY_URL": "http://10.0.0.5:8080/", "CHAOSGATE_DEADLINES__LOGS_S": "12"}
    target = load_target(None, env=env)
    assert target.gateway_url == "http://10.0.0.5:8080"
    assert target.deadlines.logs_s == 12
    assert target.jaeger == local_target().jaeger


def test_builtin_target_error_names_env_source() -> None:
    message = error_of("local", {"CHAOSGATE_SINK__URL": "sink:9095"})
    assert message.startswith("environment variable CHAOSGATE_SINK__URL: sink.url: 'sink:9095' ")


# --- files ---


def test_full_file_round_trip(tmp_path: Path) -> None:
    path = write(tmp_path, FULL_YAML)
    env = {"ES_PASSWORD": SECRET}
    target = load_target(str(path), env=env)
    assert target.name == "staging"
    assert target.gateway_url == "https://gw.example.com:8443"
    assert target.jaeger.query_url == "http://jaeger.example.com:16686"
    es = target.elasticsearch
    assert es.url == "https://es.example.com:9200"
    assert (es.index_pattern, es.trace_id_field, es.request_id_field, es.timestamp_field) == (
        "app-logs-*",
        "traceId",
        "requestId",
        "ts",
    )
    assert es.verify_tls is False
    assert es.auth is not None and es.auth.username == "elastic"
    assert es.auth.password is not None and es.auth.password.get_secret_value() == SECRET
    assert target.prometheus.url == "http://prom.example.com:9090"
    assert target.alertmanager.url == "http://am.example.com:9093"
    assert target.sink.url == "http://sink.example.com:9095"
    assert target.kubernetes.context == "staging-ctx"
    assert target.kubernetes.kubeconfig == "/etc/kube/config"
    assert target.kubernetes.namespaces == ("restaurant", "payments")
    assert (target.deadlines.traces_s, target.deadlines.logs_s, target.deadlines.alerts_s) == (
        20,
        25.5,
        45,
    )

    dumped = target.redacted_dict()
    assert json.loads(json.dumps(dumped)) == dumped
    again = write(tmp_path, yaml.safe_dump(dumped), name="again.yaml")
    assert load_target(str(again), env=env) == target


def test_name_defaults_to_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway_url: http://gw:8080\n", name="prod-eu.yaml")
    target = load_target(path, env={})
    assert target.name == "prod-eu"
    # unset sections keep the local defaults, but no span store: the file names none
    assert target.jaeger == local_target().jaeger.model_copy(update={"span_store": None})


def test_target_is_frozen() -> None:
    target = local_target()
    with pytest.raises(ValidationError):
        target.gateway_url = "http://elsewhere:1"


@pytest.mark.parametrize(
    ("text", "key", "value", "fix"),
    [
        ("elasticsearch: {url: 'ftp://x'}", "elasticsearch.url", "'ftp://x'", "http://host:port"),
        ("gateway_url: 'http://'", "gateway_url", "'http://'", "has no host"),
        ("gateway_url: 'http://gw:99999'", "gateway_url", "'http://gw:99999'", "1 to 65535"),
        ("gateway_url: 'gw.example.com'", "gateway_url", "'gw.example.com'", "http://host:port"),
        ("gateway_url: 8080", "gateway_url", "8080", "write it as a string"),
        ("jaeger: 'http://j:16686'", "jaeger", "'http://j:16686'", "not a mapping"),
        ("elasticsearch: {verify_tls: maybe}", "elasticsearch.verify_tls", "'maybe'", "true or"),
        ("deadlines: {alerts_s: 0}", "deadlines.alerts_s", "0", "> 0"),
        ("deadlines: {traces_s: -5}", "deadlines.traces_s", "-5", "> 0"),
        ("deadlines: {logs_s: 3601}", "deadlines.logs_s", "3601", "<= 3600"),
        ("deadlines: {logs_s: abc}", "deadlines.logs_s", "'abc'", "number of seconds"),
        ("deadlines: {logs_s: true}", "deadlines.logs_s", "True", "number of seconds"),
        (
            "kubernetes: {namespaces: [restaurant, Bad_NS]}",
            "kubernetes.namespaces[1]",
            "'Bad_NS'",
            "DNS-1123",
        ),
        ("kubernetes: {namespaces: []}", "kubernetes.namespaces", "[]", "at least one"),
        ("kubernetes: {namespaces: restaurant}", "kubernetes.namespaces", "'restaurant'", "list"),
        (
            "elasticsearch: {index_pattern: 'logs *'}",
            "elasticsearch.index_pattern",
            "'logs *'",
            "restaurant-logs-*",
        ),
        ("elasticsearch: {trace_id_field: ''}", "elasticsearch.trace_id_field", "''", "trace_id"),
        ("elasticsearch: {urll: 'http://es:9200'}", "elasticsearch.urll", "'urll'", "'url'?"),
        ("gatway_url: 'http://gw:8080'", "gatway_url", "'gatway_url'", "'gateway_url'?"),
        ("name: 'has space'", "name", "'has space'", "letters, digits"),
        (
            "elasticsearch: {auth: {username: u, password_env: 'ES-PASS'}}",
            "elasticsearch.auth.password_env",
            "'ES-PASS'",
            "ES_PASSWORD",
        ),
        (
            "elasticsearch: {auth: {password_env: ES_PASSWORD}}",
            "elasticsearch.auth",
            "",
            "add username",
        ),
        (
            "elasticsearch: {auth: {username: u, password_env: A, api_key_env: B}}",
            "elasticsearch.auth",
            "password_env and api_key_env",
            "exactly one",
        ),
        ("elasticsearch: {auth: {username: u}}", "elasticsearch.auth", "", "password_env"),
    ],
)
def test_bad_value_errors(tmp_path: Path, text: str, key: str, value: str, fix: str) -> None:
    path = write(tmp_path, text + "\n")
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: {key}: ")
    assert value in message and fix in message
    assert "more)" not in message


def test_several_errors_report_the_first_and_count(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        gateway_url: nope
        deadlines: {traces_s: 0, alerts_s: -1}
        """,
    )
    with pytest.raises(TargetError) as info:
        load_target(path, env={})
    assert str(info.value).startswith(f"{file_source(path)}: gateway_url: 'nope' ")
    assert str(info.value).endswith("(and 2 more)")
    assert len(info.value.problems) == 3
    assert info.value.problems[1].startswith(f"{file_source(path)}: deadlines.traces_s: 0 ")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: does not exist; ")
    assert "'local'" in message


def test_directory(tmp_path: Path) -> None:
    message = error_of(str(tmp_path))
    assert message.startswith(f"{file_source(tmp_path)}: is a directory, not a regular file; ")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their mode")
def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, FULL_YAML)
    path.chmod(0)
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: cannot be read (")
    assert "permissions" in message


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_file_that_fails_to_read() -> None:
    # reading /proc/self/mem from offset 0 fails with an I/O error, even for root
    message = error_of("/proc/self/mem")
    assert message.startswith("target file '/proc/self/mem': cannot be read (")


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: is not UTF-8 text (byte 9 is not); ")


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\ngateway_url: http://gw:8080\njaeger: {query_url: [\n")
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: line ")
    assert "invalid YAML" in message and "fix the YAML syntax" in message
    path = write(tmp_path, "name: x\nsink:\n  url: a\n bad: b\n")
    assert error_of(str(path)).startswith(f"{file_source(path)}: line 4, column 2: invalid YAML")


@pytest.mark.parametrize(
    ("text", "shown"), [("- a\n- b\n", "['a', 'b']"), ("just text\n", "'just text'")]
)
def test_top_level_not_a_mapping(tmp_path: Path, text: str, shown: str) -> None:
    path = write(tmp_path, text)
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: the top level is {shown}, not a mapping; ")


@pytest.mark.timeout(10)
def test_a_fifo_or_a_device_is_refused_without_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert error_of(str(fifo)).startswith(
        f"{file_source(fifo)}: is a FIFO (named pipe), not a regular file; give the path of a "
        "target YAML file"
    )
    assert error_of("/dev/zero").startswith(
        "target file '/dev/zero': is a character device, not a regular file; "
    )


def test_an_empty_path_and_a_file_over_the_bound(tmp_path: Path) -> None:
    assert error_of("").startswith("target file '': is an empty path; ")
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(2 << 20)
    assert error_of(str(big)) == (
        f"{file_source(big)}: is {2 << 20} bytes, more than the 1 MiB an input file may hold; "
        "give a smaller file"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a: " + "[" * 1000 + "]" * 1000 + "\n", "nested more than 64 levels deep"),
        ("kubernetes: &a {namespaces: *a}\n", "alias *a refers to the value that contains it"),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
            + "".join(
                f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n"
                for i in range(6)
            ),
            "more than 100000 values once its aliases are expanded",
        ),
    ],
)
def test_deep_recursive_or_exploding_yaml_is_one_line(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = write(tmp_path, text)
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: line ") and reason in message


def test_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing\n")
    assert error_of(str(path)).startswith(f"{file_source(path)}: is empty; ")


def test_bad_name_from_the_file_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway_url: http://gw:8080\n", name="my target.yaml")
    message = error_of(str(path))
    assert message.startswith(
        f"{file_source(path)} (its file name; or set name: in the file): "
        "name: 'my target' is not a target name"
    )


# --- environment overrides ---


def test_env_overrides_beat_file_values(tmp_path: Path) -> None:
    path = write(tmp_path, FULL_YAML)
    env = {
        "ES_PASSWORD": SECRET,
        "CHAOSGATE_NAME": "staging-b",
        "CHAOSGATE_GATEWAY_URL": "http://gw-b:8080/",
        "CHAOSGATE_ELASTICSEARCH__URL": "http://es-b:9200",
        "CHAOSGATE_ELASTICSEARCH__VERIFY_TLS": "true",
        "CHAOSGATE_ELASTICSEARCH__AUTH__USERNAME": "reader",
        "CHAOSGATE_DEADLINES__ALERTS_S": "5",
        "CHAOSGATE_KUBERNETES__NAMESPACES": "restaurant, iot ,",
        "CHAOSGATE_KUBERNETES__CONTEXT": "",
    }
    target = load_target(str(path), env=env)
    assert target.name == "staging-b"
    assert target.gateway_url == "http://gw-b:8080"
    assert target.elasticsearch.url == "http://es-b:9200"
    assert target.elasticsearch.verify_tls is True
    assert target.elasticsearch.auth is not None
    assert target.elasticsearch.auth.username == "reader"
    assert target.deadlines.alerts_s == 5 and target.deadlines.traces_s == 20
    assert target.kubernetes.namespaces == ("restaurant", "iot")
    assert target.kubernetes.context is None  # an empty value sets an optional field to null
    assert target.kubernetes.kubeconfig == "/etc/kube/config"


def test_env_can_add_a_section_the_file_lacks(tmp_path: Path) -> None:
    path = write(tmp_path, "gateway_url: http://gw:8080\n")
    env = {"CHAOSGATE_ELASTICSEARCH__AUTH__API_KEY_ENV": "ES_KEY", "ES_KEY": "a2V5OnZhbHVl"}
    target = load_target(str(path), env=env)
    assert target.elasticsearch.auth_header() == {"Authorization": "ApiKey a2V5OnZhbHVl"}


@pytest.mark.parametrize(
    ("var", "value", "key", "quoted"),
    [
        ("CHAOSGATE_DEADLINES__TRACES_S", "-1", "deadlines.traces_s", "'-1'"),
        ("CHAOSGATE_DEADLINES__TRACES_S", "soon", "deadlines.traces_s", "'soon'"),
        ("CHAOSGATE_KUBERNETES__NAMESPACES", "ok,NOT_OK", "kubernetes.namespaces[1]", "'NOT_OK'"),
        ("CHAOSGATE_KUBERNETES__NAMESPACES", "", "kubernetes.namespaces", "[]"),
        ("CHAOSGATE_JAEGER__QUERY_URL", "ftp://j", "jaeger.query_url", "'ftp://j'"),
    ],
)
def test_bad_env_value_names_the_variable(
    tmp_path: Path, var: str, value: str, key: str, quoted: str
) -> None:
    path = write(tmp_path, FULL_YAML)
    message = error_of(str(path), {"ES_PASSWORD": SECRET, var: value})
    assert message.startswith(f"environment variable {var}: {key}: {quoted} ")


@pytest.mark.parametrize(
    ("var", "suggestion"),
    [
        ("CHAOSGATE_ELASTICSEARCH__URLL", "CHAOSGATE_ELASTICSEARCH__URL"),
        ("CHAOSGATE_GATEWAY_URLL", "CHAOSGATE_GATEWAY_URL"),
        ("CHAOSGATE_GATWAY_URL", "CHAOSGATE_GATEWAY_URL"),
        ("CHAOSGATE_SINK_URL", "CHAOSGATE_SINK__URL"),
        ("CHAOSGATE_ELASTICSEARCH_URL", "CHAOSGATE_ELASTICSEARCH__URL"),
        ("CHAOSGATE_DEADLINES__ALERT_S", "CHAOSGATE_DEADLINES__ALERTS_S"),
        ("CHAOSGATE_DEADLINE__ALERTS_S", "CHAOSGATE_DEADLINES__ALERTS_S"),
        ("CHAOSGATE_ALERTS_S", "CHAOSGATE_DEADLINES__ALERTS_S"),
        ("CHAOSGATE_TRACES_S", "CHAOSGATE_DEADLINES__TRACES_S"),
        ("CHAOSGATE_NAMESPACES", "CHAOSGATE_KUBERNETES__NAMESPACES"),
        ("CHAOSGATE_KUBERNETES_NAMESPACES", "CHAOSGATE_KUBERNETES__NAMESPACES"),
        ("CHAOSGATE_CONTEXT", "CHAOSGATE_KUBERNETES__CONTEXT"),
        ("CHAOSGATE_VERIFY_TLS", "CHAOSGATE_ELASTICSEARCH__VERIFY_TLS"),
        ("CHAOSGATE_STACKDIR", "CHAOSGATE_STACK_DIR"),
        ("CHAOSGATE_STATEDIR", "CHAOSGATE_STATE_DIR"),
        ("CHAOSGATE_USER", "CHAOSGATE_USERS"),
        ("CHAOSGATE_STACK__ANYTHING", "CHAOSGATE_STACK_DIR"),
    ],
)
def test_env_typo_is_an_error(var: str, suggestion: str) -> None:
    message = error_of(None, {var: "http://x:1"})
    assert message == (
        f"environment variable {var}: not a variable chaosgate knows (a target field, "
        "CHAOSGATE_PORT_<NAME>, or a variable of the suite listed in the README); "
        f"did you mean {suggestion}?"
    )


@pytest.mark.parametrize(
    ("var", "suggestion"),
    [
        ("chaosgate_gateway_url", "CHAOSGATE_GATEWAY_URL"),
        ("Chaosgate_Sink__Url", "CHAOSGATE_SINK__URL"),
        ("chaosgate_stack_dir", "CHAOSGATE_STACK_DIR"),
    ],
)
def test_env_names_are_upper_case(var: str, suggestion: str) -> None:
    assert error_of(None, {var: "x"}) == (
        f"environment variable {var}: environment variable names of chaosgate are upper case; "
        f"did you mean {suggestion}?"
    )


def test_a_chaosgate_variable_nothing_resembles_says_unset_it() -> None:
    message = error_of(None, {"CHAOSGATE_ZZZZZZZZZZZZZZZZZZZZZZZZZZ": "1"})
    assert message.endswith("; unset it or fix its name")


def test_env_variables_of_the_suite_are_accepted() -> None:
    env = {
        "CHAOSGATE_PORT_GATEWAY": "18080",
        "CHAOSGATE_PORT_NOT__A_FIELD": "x",  # the stack's port table judges CHAOSGATE_PORT_*
        "CHAOSGATE_HOME": "/tmp/home",
        "CHAOSGATE_CACHE": "/tmp/cache",
        "CHAOSGATE_STACK_DIR": "/tmp/stack",
        "CHAOSGATE_STATE_DIR": "/tmp/state",
        "CHAOSGATE_ADMIN_FAULTS": "1",
        "CHAOSGATE_LEDGER_DIR": "/tmp/ledger",
        "CHAOSGATE_RUN_ID": "r1",
        "CHAOSGATE_SEED": "3",
        "CHAOSGATE_SHAPE": "steady",
        "CHAOSGATE_USERS": "3",
        "CHAOSGATE_IOT_DEVICES": "3",
        "CHAOSGATE_KEEP_STACK": "1",
        "GATEWAY_URL": "ftp://ignored",
    }
    assert load_target(None, env=env) == local_target()


def test_every_chaosgate_variable_in_the_tree_is_known() -> None:
    """A part that reads or sets a new CHAOSGATE_ variable registers it in env_names (the
    two modules of the rule quote misspelt names as examples)."""
    root = Path(__file__).resolve().parents[2]
    rule = {root / "chaosgate" / "env_names.py", root / "chaosgate" / "target_env.py"}
    known = {*env_leaves(Target), *SUITE_ENV_VARS}
    pattern = re.compile(r"\bCHAOSGATE_[A-Z0-9_]*[A-Z0-9]\b")
    found: dict[str, str] = {}
    folders = ("chaosgate", "scenarios", "assertions", "refstack", "scripts", "manifests",
               "tests/integration")  # fmt: skip
    for folder in folders:
        assert (root / folder).is_dir(), f"{folder}/ is gone: name where its files went"
        for path in (root / folder).rglob("*"):
            built = {"target", "__pycache__"} & set(path.relative_to(root).parts)  # Maven, pyc
            if not path.is_file() or built or path in rule:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
            for name in pattern.findall(text):
                found.setdefault(name, str(path.relative_to(root)))
    unknown = {
        name: where
        for name, where in found.items()
        if name not in known and not name.startswith(tuple(SUITE_ENV_PREFIXES))
    }
    assert unknown == {}


# --- secrets ---


def auth_file(tmp_path: Path, auth: str, extra: str = "") -> Path:
    return write(tmp_path, f"elasticsearch:\n  auth: {auth}\n{extra}")


def assert_hidden(target: Target, secret: str) -> None:
    assert secret not in repr(target)
    assert secret not in str(target)
    assert secret not in json.dumps(target.redacted_dict())
    assert secret not in repr(target.elasticsearch.auth)


def test_password_from_env(tmp_path: Path) -> None:
    path = auth_file(tmp_path, "{username: elastic, password_env: ES_PASSWORD}")
    target = load_target(str(path), env={"ES_PASSWORD": SECRET})
    auth = target.elasticsearch.auth
    assert auth is not None and isinstance(auth.password, SecretStr)
    assert auth.password.get_secret_value() == SECRET
    expected = base64.b64encode(f"elastic:{SECRET}".encode()).decode()
    assert target.elasticsearch.auth_header() == {"Authorization": f"Basic {expected}"}
    assert_hidden(target, SECRET)
    assert target.redacted_dict()["elasticsearch"]["auth"] == {
        "username": "elastic",
        "password_env": "ES_PASSWORD",
        "password_file": None,
        "api_key_env": None,
        "api_key_file": None,
    }


def test_password_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "es-password"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    path = auth_file(tmp_path, f"{{username: elastic, password_file: '{secret_file}'}}")
    target = load_target(str(path), env={})
    auth = target.elasticsearch.auth
    assert auth is not None and auth.password is not None
    assert auth.password.get_secret_value() == SECRET  # the trailing newline is dropped
    assert_hidden(target, SECRET)


def test_api_key_from_file(tmp_path: Path) -> None:
    key_file = tmp_path / "es-key"
    key_file.write_text("ZW5jb2RlZDprZXk=", encoding="utf-8")
    path = auth_file(tmp_path, f"{{api_key_file: '{key_file}'}}")
    target = load_target(str(path), env={})
    assert target.elasticsearch.auth_header() == {"Authorization": "ApiKey ZW5jb2RlZDprZXk="}
    assert_hidden(target, "ZW5jb2RlZDprZXk=")


@pytest.mark.parametrize(
    ("auth", "key", "fix"),
    [
        (
            f"{{username: elastic, password: {SECRET}}}",
            "elasticsearch.auth.password",
            "password_env",
        ),
        (f"{{api_key: {SECRET}}}", "elasticsearch.auth.api_key", "api_key_env"),
        (f"{{apiKey: {SECRET}}}", "elasticsearch.auth.apiKey", "api_key_file"),
    ],
)
def test_literal_secret_in_file_is_an_error(tmp_path: Path, auth: str, key: str, fix: str) -> None:
    path = auth_file(tmp_path, auth)
    with pytest.raises(TargetError) as info:
        load_target(str(path), env={})
    message = str(info.value)
    assert message.startswith(f"{file_source(path)}: {key}: a secret must not be written")
    assert fix in message
    assert all(SECRET not in problem for problem in info.value.problems)


def test_literal_secret_anywhere_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, f"prometheus: {{url: 'http://p:9090', bearer_token: {SECRET}}}\n")
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: prometheus.bearer_token: a secret must not")
    assert SECRET not in message


def test_literal_secret_in_env_is_an_error() -> None:
    var = "CHAOSGATE_ELASTICSEARCH__AUTH__PASSWORD"
    message = error_of(None, {var: SECRET})
    assert message.startswith(f"environment variable {var}: elasticsearch.auth.password: ")
    assert f"{var}_ENV" in message and SECRET not in message


def test_env_typo_never_shows_its_value() -> None:
    message = error_of(None, {"CHAOSGATE_ELASTICSEARCH__AUTH__PASWORD_ENV": SECRET})
    assert "did you mean CHAOSGATE_ELASTICSEARCH__AUTH__PASSWORD_ENV?" in message
    assert SECRET not in message


def test_url_credentials_are_rejected_and_masked(tmp_path: Path) -> None:
    path = write(tmp_path, f"elasticsearch: {{url: 'https://elastic:{SECRET}@es:9200'}}\n")
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: elasticsearch.url: 'https://***@es:9200' ")
    assert "elasticsearch.auth" in message and SECRET not in message


def test_missing_credential_env_var(tmp_path: Path) -> None:
    path = auth_file(tmp_path, "{username: elastic, password_env: ES_PASSWORD}")
    message = error_of(str(path), {})
    assert message.startswith(f"{file_source(path)}: elasticsearch.auth.password_env: ")
    assert "'ES_PASSWORD' is not set" in message and "password_file" in message


def test_empty_credential_env_var(tmp_path: Path) -> None:
    path = auth_file(tmp_path, "{api_key_env: ES_KEY}")
    message = error_of(str(path), {"ES_KEY": ""})
    assert message.startswith(f"{file_source(path)}: elasticsearch.auth.api_key_env: ")
    assert "'ES_KEY' is empty" in message


def test_credential_env_name_from_env_names_that_source(tmp_path: Path) -> None:
    path = auth_file(tmp_path, "{username: elastic, password_env: ES_PASSWORD}")
    var = "CHAOSGATE_ELASTICSEARCH__AUTH__PASSWORD_ENV"
    message = error_of(str(path), {var: "OTHER_PASSWORD", "ES_PASSWORD": SECRET})
    assert message.startswith(f"environment variable {var}: elasticsearch.auth.password_env: ")
    assert "'OTHER_PASSWORD' is not set" in message


@pytest.mark.parametrize("kind", ["missing", "directory", "empty"])
def test_unusable_credential_file(tmp_path: Path, kind: str) -> None:
    secret_file = tmp_path / "es-password"
    if kind == "directory":
        secret_file.mkdir()
    elif kind == "empty":
        secret_file.write_text("\n", encoding="utf-8")
    path = auth_file(tmp_path, f"{{username: elastic, password_file: '{secret_file}'}}")
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: elasticsearch.auth.password_file: ")
    assert repr(str(secret_file)) in message
    reason = {"missing": "does not exist", "directory": "is a directory", "empty": "is empty"}
    assert reason[kind] in message


@pytest.mark.timeout(10)
@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_a_credential_file_is_read_without_blocking_and_bounded(tmp_path: Path, kind: str) -> None:
    secret_file = tmp_path / "es-password"
    if kind == "fifo":
        os.mkfifo(secret_file)
    elif kind == "huge":
        with secret_file.open("wb") as handle:
            handle.truncate(2 << 20)
    named = "/dev/zero" if kind == "device" else str(secret_file)
    path = auth_file(tmp_path, f"{{username: elastic, password_file: '{named}'}}")
    message = error_of(str(path))
    assert message.startswith(f"{file_source(path)}: elasticsearch.auth.password_file: {named!r} ")
    expected = {
        "fifo": "is a FIFO (named pipe), not a regular file",
        "device": "is a character device, not a regular file",
        "huge": "more than the 1 MiB an input file may hold",
    }
    assert expected[kind] in message and message.endswith(", or use password_env")


def test_secret_absent_from_errors_about_something_else(tmp_path: Path) -> None:
    secret_file = tmp_path / "es-password"
    secret_file.write_text(SECRET, encoding="utf-8")
    for auth in (
        "{username: elastic, password_env: ES_PASSWORD}",
        f"{{username: elastic, password_file: '{secret_file}'}}",
    ):
        path = auth_file(tmp_path, auth, "gateway_url: 'ftp://gw'\n")
        with pytest.raises(TargetError) as info:
            load_target(str(path), env={"ES_PASSWORD": SECRET})
        assert str(info.value).startswith(f"{file_source(path)}: gateway_url: 'ftp://gw' ")
        assert SECRET not in str(info.value) and SECRET not in repr(info.value)
        assert all(SECRET not in problem for problem in info.value.problems)


def test_auth_header_needs_a_read_credential() -> None:
    unread = ElasticsearchConfig(auth=ElasticsearchAuth(username="u", password_env="ES_PASSWORD"))
    with pytest.raises(TargetError) as info:
        unread.auth_header()
    assert str(info.value).startswith("elasticsearch.auth: the credential has not been read")
    direct = ElasticsearchConfig(auth=ElasticsearchAuth(username="u", password=SecretStr("p")))
    assert direct.auth_header() == {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
    assert "'p'" not in repr(direct)


# --- the kind of chaos, the built-in local-k8s, where values came from ---


def test_the_builtin_local_takes_local_chaos_and_files_kubernetes(tmp_path: Path) -> None:
    assert load_target(None, env={}).chaos == "local"
    path = write(tmp_path, "gateway_url: http://gw:8080\n")
    assert load_target(path, env={}).chaos == "kubernetes"
    assert load_target(path, env={"CHAOSGATE_CHAOS": "local"}).chaos == "local"
    local_file = write(tmp_path, "chaos: local\n", name="mine.yaml")
    assert load_target(local_file, env={}).chaos == "local"


def test_a_bad_kind_of_chaos_says_which_there_are(tmp_path: Path) -> None:
    path = write(tmp_path, "chaos: k8s\n")
    message = error_of(path)
    assert message.startswith(f"{file_source(path)}: chaos: 'k8s' is not a kind of chaos")
    assert "write kubernetes" in message and "or local" in message


def test_local_k8s_is_the_local_stack_through_the_gateway_nodeport(tmp_path: Path) -> None:
    env = {"CHAOSGATE_STACK_DIR": str(tmp_path / "state")}
    target = load_target("local-k8s", env=env)
    assert target == local_k8s_target(env=env)
    assert target.name == "local-k8s"
    assert target.chaos == "kubernetes"
    assert target.gateway_url == "http://127.0.0.1:30080"
    local = local_target()
    assert (target.jaeger, target.elasticsearch, target.prometheus) == (
        local.jaeger,
        local.elasticsearch,
        local.prometheus,
    )
    assert (target.alertmanager, target.sink, target.deadlines) == (
        local.alertmanager,
        local.sink,
        local.deadlines,
    )
    k8s = target.kubernetes
    assert k8s.kubeconfig == str(tmp_path / "state" / "k8s" / "admin.kubeconfig")
    assert (k8s.namespaces, k8s.context, k8s.stress_node) == (
        ("restaurant",),
        None,
        LOCAL_NODE_NAME,
    )


def test_local_k8s_kubeconfig_is_the_one_stack_up_writes(tmp_path: Path) -> None:
    from refstack.launcher.k8s_parts import k8s_files
    from refstack.launcher.layout import StackLayout

    for env in ({}, {"CHAOSGATE_STACK_DIR": str(tmp_path)}):
        expected = k8s_files(StackLayout.from_env(env)).admin_kubeconfig
        assert local_k8s_kubeconfig(env) == expected


def test_local_k8s_follows_the_stacks_port_overrides() -> None:
    ports = {"gateway_nodeport": 31080, "prometheus": 19090, "gateway": 18080}
    target = load_target("local-k8s", env={}, local_ports=ports)
    assert target.gateway_url == "http://127.0.0.1:31080"
    assert target.prometheus.url == "http://127.0.0.1:19090"
    assert set(DEFAULT_LOCAL_K8S_PORTS) == set(DEFAULT_LOCAL_PORTS) - {"gateway"} | {
        "gateway_nodeport"
    }
    with pytest.raises(TargetError, match=r"^built-in target 'local-k8s': ports.sink: 0 "):
        local_k8s_target({"sink": 0})


def test_local_k8s_takes_environment_overrides() -> None:
    env = {"CHAOSGATE_KUBERNETES__STRESS_NODE": "node-7", "CHAOSGATE_KUBERNETES__CONTEXT": "x"}
    target = load_target("local-k8s", env=env)
    assert (target.kubernetes.stress_node, target.kubernetes.context) == ("node-7", "x")


@pytest.mark.parametrize("node", ["Node_1", "-a", "a..b", "x" * 254])
def test_a_bad_stress_node_is_refused(tmp_path: Path, node: str) -> None:
    path = write(tmp_path, f"kubernetes: {{stress_node: '{node}'}}\n")
    assert "kubernetes.stress_node" in error_of(path)
    assert "is not a node name" in error_of(path)


def test_resolve_target_says_where_the_allowlist_came_from(tmp_path: Path) -> None:
    path = write(tmp_path, "kubernetes: {namespaces: [restaurant]}\n")
    assert resolve_target(path, env={}).origin("kubernetes", "namespaces") == file_source(path)
    bare = write(tmp_path, "gateway_url: http://gw:8080\n", name="bare.yaml")
    # a value the file does not set comes from its defaults: the file is still the place
    assert resolve_target(bare, env={}).origin("kubernetes", "namespaces") == file_source(bare)
    env = {"CHAOSGATE_KUBERNETES__NAMESPACES": "a,b"}
    resolved = resolve_target(path, env=env)
    assert resolved.target.kubernetes.namespaces == ("a", "b")
    assert resolved.origin("kubernetes", "namespaces") == (
        "environment variable CHAOSGATE_KUBERNETES__NAMESPACES"
    )
    assert resolve_target("local-k8s", env={}).origin("kubernetes", "namespaces") == (
        "built-in target 'local-k8s'"
    )
    assert resolve_target(None, env={}).spec == "local"


# --- sink.receivers ---


def test_the_sink_records_every_integration_by_default() -> None:
    assert local_target().sink.receivers == ("webhook", "slack", "email")
    assert Target().sink.receivers == ("webhook", "slack", "email")


def test_a_deployment_names_the_integrations_chaosgate_can_read(tmp_path: Path) -> None:
    path = write(tmp_path, "sink:\n  url: http://sink.example.com:9095\n  receivers: [webhook]\n")
    assert load_target(str(path), env={}).sink.receivers == ("webhook",)
    none = write(tmp_path, "sink:\n  receivers: []\n", name="none.yaml")
    assert load_target(str(none), env={}).sink.receivers == ()
    env = {"CHAOSGATE_SINK__RECEIVERS": "slack,email"}
    assert load_target(None, env=env).sink.receivers == ("slack", "email")
    dumped = load_target(str(path), env={}).redacted_dict()
    assert dumped["sink"] == {"url": "http://sink.example.com:9095", "receivers": ["webhook"]}


@pytest.mark.parametrize(
    ("receivers", "expected"),
    [
        ("[webhook, pagerduty]", "sink.receivers[1]: 'pagerduty' is not an integration the sink "
         "records; write webhook, slack, email"),
        ("[slack, slack]", "sink.receivers: ['slack', 'slack'] names an integration twice; "
         "list each at most once"),
        ("webhook", "sink.receivers: 'webhook' is not a list"),
    ],
    ids=["unknown", "twice", "not-a-list"],
)  # fmt: skip
def test_bad_sink_receivers_are_refused(tmp_path: Path, receivers: str, expected: str) -> None:
    path = write(tmp_path, f"sink:\n  receivers: {receivers}\n")
    assert error_of(path).startswith(f"target file {str(path)!r}: {expected}")
