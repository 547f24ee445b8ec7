"""Render the configuration files of the local stack's parts from its ports and paths.

Each ``*_config`` function is pure (ports and paths in, text out) so unit tests can read the
result; :func:`write_configs` writes them all into the state directory.

Timing choices, which the alert rules rely on (see ``refstack/prometheus/rules.yml``): Prometheus
scrapes every 1 s and evaluates every 1 s and re-sends active alerts every 5 s; Alertmanager's
configuration (route tree, receivers, inhibitions, its timing) is :mod:`refstack.launcher.alerting`
(``alertmanager_config`` is re-exported here for the callers of this module).

:func:`write_configs` also writes a fresh random token for the receivers
(``<state dir>/run/sink-token``, mode 0600): the sink and its SMTP receiver accept only
deliveries carrying it, and Alertmanager's configuration names the file, never the token.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from chaosgate.receivers.credential import write_token_file
from refstack.launcher.alerting import alertmanager_config
from refstack.launcher.layout import StackLayout
from refstack.launcher.ports import HOST
from refstack.launcher.stores import DEFAULT_STORE, LogStore

__all__ = [
    "LOG_INDEX_PREFIX",
    "LOG_INDEX_TEMPLATE",
    "SERVICES",
    "ConfigPaths",
    "K8sDiscovery",
    "alertmanager_config",
    "jaeger_config",
    "kubernetes_pods_job",
    "prometheus_config",
    "rsyslog_config",
    "write_configs",
]

SERVICES = ("gateway", "orders", "users", "iot")
LOG_INDEX_PREFIX = "restaurant-logs-"
JAEGER_INDEX_PREFIX = "jaeger"

# composable index template for the services' logs: ids are keywords so `terms` queries match
LOG_INDEX_TEMPLATE: Mapping[str, object] = {
    "index_patterns": [f"{LOG_INDEX_PREFIX}*"],
    "template": {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
        "mappings": {
            "dynamic_templates": [
                {
                    "strings_as_keywords": {
                        "match_mapping_type": "string",
                        "mapping": {"type": "keyword", "ignore_above": 1024},
                    }
                }
            ],
            "properties": {
                "@timestamp": {"type": "date"},
                "message": {"type": "text"},
                "trace_id": {"type": "keyword"},
                "span_id": {"type": "keyword"},
                "request_id": {"type": "keyword"},
                "service": {"type": "keyword"},
                "level": {"type": "keyword"},
            },
        },
    },
    "priority": 100,
}


@dataclass(frozen=True)
class ConfigPaths:
    jaeger: Path
    prometheus: Path
    alertmanager: Path
    rsyslog: Path
    # a copy of refstack/prometheus/rules.yml that Prometheus loads (reload: POST /-/reload)
    rules: Path
    # the receivers' token (mode 0600, new at every `stack up`): the sink and its SMTP
    # receiver require it, Alertmanager delivers with it
    sink_token: Path


def _url(port: int) -> str:
    return f"http://{HOST}:{port}"


def jaeger_config(ports: Mapping[str, int], store: LogStore = DEFAULT_STORE) -> str:
    """Jaeger v2: OTLP in, spans stored in the store (its own backend kind: ``opensearch`` or
    ``elasticsearch``), query API and UI on ``jaeger_query``."""
    backend = {
        store.jaeger_backend: {
            "server_urls": [_url(ports["store"])],
            "indices": {
                "index_prefix": JAEGER_INDEX_PREFIX,
                **{
                    kind: {"shards": 1, "replicas": 0}
                    for kind in ("spans", "services", "dependencies", "sampling")
                },
            },
        }
    }
    config = {
        "service": {
            "extensions": ["jaeger_storage", "jaeger_query"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["batch"],
                    "exporters": ["jaeger_storage_exporter"],
                }
            },
            "telemetry": {
                "resource": {"service.name": "jaeger"},
                "metrics": {"level": "none"},
                "logs": {"level": "info"},
            },
        },
        "extensions": {
            "jaeger_storage": {"backends": {"span_store": backend}},
            "jaeger_query": {
                "storage": {"traces": "span_store"},
                "http": {"endpoint": f"{HOST}:{ports['jaeger_query']}"},
                "grpc": {"endpoint": f"{HOST}:{ports['jaeger_query_grpc']}"},
            },
        },
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"{HOST}:{ports['otlp_grpc']}"},
                    "http": {"endpoint": f"{HOST}:{ports['otlp_http']}"},
                }
            }
        },
        "processors": {"batch": {"timeout": "200ms"}},
        "exporters": {"jaeger_storage_exporter": {"trace_storage": "span_store"}},
    }
    return yaml.safe_dump(config, sort_keys=False)


@dataclass(frozen=True)
class K8sDiscovery:
    """How Prometheus finds the restaurant pods on the local cluster (``stack up --k8s``)."""

    api_url: str
    ca_file: Path
    token_file: Path
    namespace: str = "restaurant"


def kubernetes_pods_job(discovery: K8sDiscovery) -> dict[str, object]:
    """One scrape job over the annotated pods of ``discovery.namespace``.

    Pods are found with ``role: pod`` (never services or endpoints: their loopback addresses
    cannot be published as endpoints: the API server refuses them); only running pods with
    ``prometheus.io/scrape: "true"`` are kept, scraped at ``<pod IP>:<prometheus.io/port>``.
    ``job`` is the pod's ``app.kubernetes.io/name`` label, so the rules' ``job="users"`` selects
    the same series as on the plain stack; ``namespace`` and ``pod`` are added.
    """
    meta = "__meta_kubernetes_pod_"
    return {
        "job_name": "kubernetes-pods",
        "kubernetes_sd_configs": [
            {
                "role": "pod",
                "api_server": discovery.api_url,
                "tls_config": {"ca_file": str(discovery.ca_file)},
                "authorization": {"credentials_file": str(discovery.token_file)},
                "namespaces": {"names": [discovery.namespace]},
            }
        ],
        "relabel_configs": [
            {"source_labels": [f"{meta}annotation_prometheus_io_scrape"], "regex": "true",
             "action": "keep"},
            {"source_labels": [f"{meta}phase"], "regex": "Running", "action": "keep"},
            {"source_labels": [f"{meta}ip", f"{meta}annotation_prometheus_io_port"],
             "regex": "(.+);(\\d+)", "replacement": "$1:$2", "target_label": "__address__"},
            {"source_labels": [f"{meta}annotation_prometheus_io_path"], "regex": "(.+)",
             "target_label": "__metrics_path__"},
            {"source_labels": [f"{meta}label_app_kubernetes_io_name"], "target_label": "job"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": [f"{meta}name"], "target_label": "pod"},
        ],
    }  # fmt: skip


def prometheus_config(
    ports: Mapping[str, int], rules_file: Path, k8s: K8sDiscovery | None = None
) -> str:
    """Scrape the services (static targets, or the cluster's pods with ``k8s``), the node,
    Prometheus and Alertmanager; evaluate ``rules_file``; alert to the local Alertmanager."""
    scrape_configs: list[dict[str, object]]
    if k8s is None:
        scrape_configs = [
            {
                "job_name": service,
                "static_configs": [{"targets": [f"{HOST}:{ports[service]}"]}],
            }
            for service in SERVICES
        ]
    else:
        scrape_configs = [kubernetes_pods_job(k8s)]
    scrape_configs += [
        {"job_name": "node", "static_configs": [{"targets": [f"{HOST}:{ports['node_exporter']}"]}]},
        {
            "job_name": "prometheus",
            "static_configs": [{"targets": [f"{HOST}:{ports['prometheus']}"]}],
        },
        {
            "job_name": "alertmanager",
            "static_configs": [{"targets": [f"{HOST}:{ports['alertmanager']}"]}],
        },
    ]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
        "rule_files": [str(rules_file)],
        "alerting": {
            "alertmanagers": [
                {"static_configs": [{"targets": [f"{HOST}:{ports['alertmanager']}"]}]}
            ]
        },
        "scrape_configs": scrape_configs,
    }
    return yaml.safe_dump(config, sort_keys=False)


def rsyslog_config(
    ports: Mapping[str, int], layout: StackLayout, pod_log_dir: Path | None = None
) -> str:
    """imfile tails every service log, mmjsonparse parses it, omelasticsearch bulk-indexes it.

    With ``pod_log_dir`` (``stack up --k8s``) it also tails every container log the node agent
    writes there; lines that are not JSON objects (a server's own start-up lines) are dropped.

    ``searchType=""`` stops omelasticsearch adding a ``_type`` (OpenSearch 2 rejects one;
    Elasticsearch 7 takes typeless bulk requests).
    The daily index name comes from the time rsyslog received the line (UTC).
    """
    work_dir = layout.data_dir / "rsyslog"
    return f"""# rendered by chaosgate; do not edit (re-rendered on every `chaosgate stack up`)
global(workDirectory="{work_dir}")
module(load="imfile" mode="inotify")
module(load="mmjsonparse")
module(load="omelasticsearch")

template(name="restaurant_doc" type="list") {{ property(name="$!all-json") }}
template(name="restaurant_index" type="string"
         string="{LOG_INDEX_PREFIX}%timegenerated:1:10:date-rfc3339,date-utc%")

input(type="imfile" file="{layout.service_log_dir}/*.log" tag="restaurant"
      ruleset="ship_to_store" freshStartTail="off" readMode="0")
{_pod_log_input(pod_log_dir)}
ruleset(name="ship_to_store") {{
  action(type="mmjsonparse" cookie="" useRawMsg="on")
  if $parsesuccess == "OK" then {{
    action(type="omelasticsearch" server="{HOST}" serverport="{ports["store"]}"
           template="restaurant_doc" searchIndex="restaurant_index" dynSearchIndex="on"
           searchType="" bulkmode="on" maxbytes="10m"
           queue.type="linkedList" queue.size="100000" queue.dequeueBatchSize="1000"
           action.resumeRetryCount="-1" action.resumeInterval="1"
           errorfile="{work_dir}/store-errors.json")
  }}
}}
"""


def _pod_log_input(pod_log_dir: Path | None) -> str:
    if pod_log_dir is None:
        return ""
    return (
        f'input(type="imfile" file="{pod_log_dir}/*.log" tag="pods"\n'
        '      ruleset="ship_to_store" freshStartTail="off" readMode="0")\n'
    )


def write_configs(
    layout: StackLayout,
    ports: Mapping[str, int],
    *,
    k8s: K8sDiscovery | None = None,
    pod_log_dir: Path | None = None,
    store: LogStore = DEFAULT_STORE,
) -> ConfigPaths:
    layout.ensure_dirs()
    (layout.data_dir / "rsyslog").mkdir(parents=True, exist_ok=True)
    paths = ConfigPaths(
        jaeger=layout.config_dir / "jaeger.yaml",
        prometheus=layout.config_dir / "prometheus.yml",
        alertmanager=layout.config_dir / "alertmanager.yml",
        rsyslog=layout.config_dir / "rsyslog.conf",
        rules=layout.config_dir / "rules.yml",
        sink_token=write_token_file(layout.run_dir / "sink-token"),
    )
    shutil.copyfile(layout.refstack_src / "prometheus" / "rules.yml", paths.rules)
    paths.jaeger.write_text(jaeger_config(ports, store))
    paths.prometheus.write_text(prometheus_config(ports, paths.rules, k8s))
    paths.alertmanager.write_text(alertmanager_config(ports, paths.sink_token))
    paths.rsyslog.write_text(rsyslog_config(ports, layout, pod_log_dir))
    return paths
