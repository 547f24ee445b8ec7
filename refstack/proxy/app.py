"""The service proxy process: watchers, proxier, health server and signals wired together."""

from __future__ import annotations

import asyncio
import logging
import signal

from kubernetes.client import ApiClient, CoreV1Api

from refstack.node_config import NodeConfig
from refstack.proxy.health import start_health_server
from refstack.proxy.model import pod_info, service_info
from refstack.proxy.proxier import LoopSink, Proxier
from refstack.proxy.watcher import ListWatcher

__all__ = ["serve"]

_log = logging.getLogger("refstack.proxy")


async def serve(
    config: NodeConfig, api_client: ApiClient, *, connect_timeout_s: float = 2.0
) -> None:
    """Run the proxy until SIGTERM or SIGINT, then close every listener and return."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    proxier = Proxier(config.node_ip, connect_timeout_s=connect_timeout_s)
    health = start_health_server(config.node_ip, config.proxy_health_port, lambda: proxier.health)
    core = CoreV1Api(api_client)
    sink = LoopSink(loop, proxier)
    services = ListWatcher("services", core.list_service_for_all_namespaces, service_info, sink)
    pods = ListWatcher("pods", core.list_pod_for_all_namespaces, pod_info, sink)
    _log.info(
        "service proxy for node %s: NodePorts on %s, /healthz on %s:%d",
        config.node_name,
        config.node_ip,
        config.node_ip,
        config.proxy_health_port,
    )
    services.start()
    pods.start()
    try:
        await proxier.run(stop)
    finally:
        services.stop()
        pods.stop()
        health.shutdown()
        health.server_close()
        _log.info("service proxy stopped")
