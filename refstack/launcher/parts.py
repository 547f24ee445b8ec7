"""The parts of the local stack: what each one runs, where it listens, how it proves it is up."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from refstack.launcher.builds import BuildOutputs
from refstack.launcher.configs import SERVICES, ConfigPaths
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import HOST
from refstack.launcher.stores import DEFAULT_STORE, LogStore
from refstack.launcher.supervisor import Program

__all__ = ["DEFAULT_RESTART_DELAY_S", "Part", "build_parts", "part_urls", "prometheus_data_dir"]

# A killed service comes back after this long, like a Deployment's replacement pod
# (reschedule, start, readiness). Without it a supervised process is back within a second
# and a "service down" alert (which needs the target down for its `for:` duration) could
# never be seen on the local stack.
DEFAULT_RESTART_DELAY_S = 10


@dataclass(frozen=True)
class Part:
    """One row of the stack table."""

    name: str
    program: Program
    url: str  # what a user opens ("" when the part has no HTTP side)
    # GET answers 2xx when the part is healthy; smtp://host:port answers an SMTP NOOP;
    # "" = process state only
    health_url: str


def part_urls(ports: Mapping[str, int]) -> dict[str, str]:
    """The URL shown for each part, and the base URL clients use."""
    urls = {service: f"http://{HOST}:{ports[service]}" for service in SERVICES}
    urls.update(
        {
            "store": f"http://{HOST}:{ports['store']}",  # OpenSearch or Elasticsearch
            "jaeger": f"http://{HOST}:{ports['jaeger_query']}",
            "prometheus": f"http://{HOST}:{ports['prometheus']}",
            "alertmanager": f"http://{HOST}:{ports['alertmanager']}",
            "sink": f"http://{HOST}:{ports['sink']}",
            "smtp": f"smtp://{HOST}:{ports['smtp']}",
            "node-exporter": f"http://{HOST}:{ports['node_exporter']}",
            "rsyslog": "",
        }
    )
    return urls


def _jvm_options(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


KEEP_ALIVE_S = 75
"""How long a service keeps an idle client connection open (gunicorn's default is 2 s, meant for
behind a proxy). The simulated users wait 0.5-2 s between requests, so with 2 s the server
closed connections just as clients reused them: after the node stalled for 1.4 s (measured
after a memory fault) 22 requests of a run were reset before reaching the gateway. 75 s is
what gateways in front of such services keep (nginx's default): the client closes first."""


def _service_program(
    service: str, layout: StackLayout, ports: Mapping[str, int], restart_delay_s: int
) -> Program:
    marker = layout.run_dir / f"{service}.started"
    gunicorn = [
        sys.executable, "-m", "gunicorn",
        "--bind", f"{HOST}:{ports[service]}",
        "--workers", "1", "--worker-class", "gthread", "--threads", "16",
        "--graceful-timeout", "5", "--keep-alive", str(KEEP_ALIVE_S), "--no-control-socket",
        f"restaurant.{service}.app:create_app()",
    ]  # fmt: skip
    # first start: serve at once; any later start (after a crash or kill): wait like a new pod
    script = (
        f"if [ -e {shlex.quote(str(marker))} ]; then sleep {restart_delay_s}; fi; "
        f"touch {shlex.quote(str(marker))}; exec {shlex.join(gunicorn)}"
    )
    env = {
        "SERVICE_NAME": service,
        "PYTHONPATH": str(layout.refstack_src / "services"),
        "ORDERS_URL": f"http://{HOST}:{ports['orders']}",
        "USERS_URL": f"http://{HOST}:{ports['users']}",
        "IOT_URL": f"http://{HOST}:{ports['iot']}",
        "DATABASE_URL": f"sqlite:///{layout.data_dir / (service + '.db')}",
        "LOG_FILE": str(layout.service_log_dir / f"{service}.log"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{HOST}:{ports['otlp_http']}",
        "OTEL_SERVICE_NAME": service,
        "CHAOSGATE_ADMIN_FAULTS": "1",
    }
    return Program(name=service, command=["/bin/sh", "-c", script], env=env, stop_wait_s=10)


def prometheus_data_dir(layout: StackLayout, *, k8s: bool) -> Path:
    """Where the stack's Prometheus keeps its TSDB (one for each kind of stack)."""
    return layout.data_dir / ("prometheus-k8s" if k8s else "prometheus")


def build_parts(
    layout: StackLayout,
    ports: Mapping[str, int],
    builds: BuildOutputs,
    binaries: Mapping[str, Path],
    configs: ConfigPaths,
    *,
    restart_delay_s: int = DEFAULT_RESTART_DELAY_S,
    k8s: bool = False,
    store: LogStore = DEFAULT_STORE,
) -> list[Part]:
    """Every part, in start order (the store first: Jaeger and rsyslog write into it).

    With ``k8s`` Prometheus keeps its own data directory: it is another Prometheus release
    (the one with Kubernetes discovery) and its pod series must not show up in the plain
    stack's queries, nor the plain stack's in its.
    """
    urls = part_urls(ports)
    data = layout.data_dir
    prometheus_data = prometheus_data_dir(layout, k8s=k8s)
    store_dir = builds.store_dir(store)
    parts = [
        Part(
            store.name,
            Program(
                store.name,
                [
                    str(binaries["java"]),
                    *_jvm_options(layout.refstack_src / store.name / "jvm.options"),
                    "-cp",
                    f"{store_dir / store.jar}:{store_dir / 'lib'}/*",
                    store.main_class,
                    "--http.port",
                    str(ports["store"]),
                    "--transport.port",
                    str(ports["store_transport"]),
                    "--path.home",
                    str(data / store.name),
                    "--path.data",
                    str(data / store.name / "data"),
                    "--path.logs",
                    str(layout.log_dir / store.name),
                ],
                stop_wait_s=30,
            ),
            urls["store"],
            f"{urls['store']}/_cluster/health",
        ),
        Part(
            "jaeger",
            Program("jaeger", [str(builds.jaeger_binary), f"--config=file:{configs.jaeger}"]),
            urls["jaeger"],
            f"{urls['jaeger']}/api/services",
        ),
        Part(
            "rsyslog",
            Program(
                "rsyslog", [str(binaries["rsyslogd"]), "-n", "-iNONE", "-f", str(configs.rsyslog)]
            ),
            urls["rsyslog"],
            "",
        ),
        Part(
            "prometheus",
            Program(
                "prometheus",
                [
                    str(binaries["prometheus"]),
                    f"--config.file={configs.prometheus}",
                    f"--storage.tsdb.path={prometheus_data}",
                    f"--web.listen-address={HOST}:{ports['prometheus']}",
                    "--web.enable-lifecycle",
                    "--rules.alert.resend-delay=5s",
                    "--storage.tsdb.retention.time=2d",
                ],
            ),
            urls["prometheus"],
            f"{urls['prometheus']}/-/ready",
        ),
        Part(
            "alertmanager",
            Program(
                "alertmanager",
                [
                    str(binaries["prometheus-alertmanager"]),
                    f"--config.file={configs.alertmanager}",
                    f"--storage.path={data / 'alertmanager'}",
                    f"--web.listen-address={HOST}:{ports['alertmanager']}",
                    "--cluster.listen-address=",
                ],
            ),
            urls["alertmanager"],
            f"{urls['alertmanager']}/-/ready",
        ),
        Part(
            "node-exporter",
            Program(
                "node-exporter",
                [
                    str(binaries["prometheus-node-exporter"]),
                    f"--web.listen-address={HOST}:{ports['node_exporter']}",
                ],
            ),
            urls["node-exporter"],
            f"{urls['node-exporter']}/metrics",
        ),
        Part(
            "sink",
            Program(
                "sink",
                [
                    sys.executable,
                    "-m",
                    "chaosgate",
                    "sink",
                    "--host",
                    HOST,
                    "--port",
                    str(ports["sink"]),
                    "--out",
                    str(data / "sink" / "notifications.jsonl"),
                    "--token-file",
                    str(configs.sink_token),
                ],
            ),
            urls["sink"],
            f"{urls['sink']}/healthz",
        ),
        Part(
            "smtp",
            Program(
                "smtp",
                [
                    sys.executable,
                    "-m",
                    "chaosgate",
                    "sink",
                    "smtp",
                    "--host",
                    HOST,
                    "--port",
                    str(ports["smtp"]),
                    "--sink-url",
                    urls["sink"],
                    "--token-file",
                    str(configs.sink_token),
                ],
            ),
            urls["smtp"],
            urls["smtp"],  # health: an SMTP NOOP (refstack.launcher.health)
        ),
    ]
    parts += [
        Part(
            service,
            _service_program(service, layout, ports, restart_delay_s),
            urls[service],
            f"{urls[service]}/healthz",
        )
        for service in SERVICES
    ]
    return parts
