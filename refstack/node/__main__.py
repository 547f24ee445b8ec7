"""``python -m refstack.node --config NODE.yaml``: the node agent's process.

Besides the pods it serves ``/healthz`` (:mod:`.health`) and, with ``kubelet_tls`` in the
config, the kubelet API's container logs (:mod:`.kubelet_api`) for ``kubectl logs``.

SIGTERM or SIGINT stop it: every container gets SIGTERM, SIGKILL after ``--shutdown-grace``
seconds, and the agent exits 0. The pods stay bound to the node; the next agent starts them
afresh (and first stops any container process a hard-killed agent left behind).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

import httpx
from kubernetes import config as kube_config

from refstack.node.clock import SystemClock
from refstack.node.health import HealthServer
from refstack.node.ipam import PodIpPool
from refstack.node.kubeapi import PodApi
from refstack.node.kubelet_api import KubeletApiServer, server_tls_context
from refstack.node.manager import PodManager
from refstack.node.node import NodeHeartbeat
from refstack.node.podlogs import PodLogs
from refstack.node.pods import NodeContext, pods_dir
from refstack.node.podwatch import PodWatch
from refstack.node.processes import stop_recorded_processes
from refstack.node_config import NodeConfigError, load_node_config

__all__ = ["main"]

_log = logging.getLogger("refstack.node")


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m refstack.node",
        description="Run this machine as a Kubernetes node whose pods are local processes.",
    )
    parser.add_argument("--config", required=True, type=Path, help="the node config (YAML)")
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=5.0,
        help="seconds between SIGTERM and SIGKILL for containers when the agent stops",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("kubernetes", "urllib3", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        config = load_node_config(args.config)
    except NodeConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        _log.warning(
            "not running as root: a container with volumeMounts (a pod's service-account token "
            "too, unless the pod sets automountServiceAccountToken: false) cannot get its mount "
            "namespace and fails to start"
        )
    for pid in stop_recorded_processes(pods_dir(config)):
        _log.warning("stopped leftover container process group %d", pid)

    api_client = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(config.kubeconfig)
    )
    clock = SystemClock()
    heartbeat = NodeHeartbeat(api_client, config, clock)
    health = HealthServer(
        config.node_ip,
        config.agent_health_port,
        lambda: (heartbeat.healthy, heartbeat.last_error),
    )
    probe_http = httpx.Client(
        verify=False, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
    )
    node = NodeContext(
        config=config,
        api=PodApi(api_client),
        pool=PodIpPool(config.pod_cidr, reserved=[config.node_ip, config.apiserver_host]),
        clock=clock,
        probe_http=probe_http,
        allocatable=heartbeat.capacity,
        agent_env=dict(os.environ),
    )
    manager = PodManager(node)
    pod_watch = PodWatch(api_client, node.api, config.node_name, manager)
    kubelet_api: KubeletApiServer | None = None
    if config.kubelet_tls is None:
        _log.warning("the node config has no kubelet_tls: kubectl logs will not reach this node")
    else:
        tls = config.kubelet_tls
        try:
            context = server_tls_context(tls.cert, tls.key, tls.client_ca)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            print(
                f"error: kubelet_tls in {args.config}: cannot load {tls.cert}, {tls.key} or "
                f"{tls.client_ca}: {exc}",
                file=sys.stderr,
            )
            return 2
        logs = PodLogs(manager, config.container_log_dir)
        kubelet_api = KubeletApiServer(config.node_ip, config.kubelet_port, context, logs.find)

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        _log.info("got %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    health.start()
    if kubelet_api is not None:
        kubelet_api.start()
    threading.Thread(target=heartbeat.run, name="heartbeat", daemon=True).start()
    threading.Thread(target=pod_watch.run, name="pod-watch", daemon=True).start()
    _log.info(
        "node %s on %s: pods from %s, health on http://%s:%d/healthz, kubelet API on %s",
        config.node_name,
        config.node_ip,
        config.pod_cidr,
        config.node_ip,
        config.agent_health_port,
        f"https://{config.node_ip}:{config.kubelet_port}" if kubelet_api else "none",
    )
    while not stop.wait(1.0):
        pass

    pod_watch.stop()
    if not manager.shutdown(args.shutdown_grace, timeout_s=args.shutdown_grace + 15):
        _log.error("some pod workers did not finish in time")
    heartbeat.stop()
    if kubelet_api is not None:
        kubelet_api.stop()
    health.stop()
    probe_http.close()
    _log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
