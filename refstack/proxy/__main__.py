"""``python -m refstack.proxy --config node.yaml``: the node's service proxy."""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
import sys
from collections.abc import Sequence
from pathlib import Path

from kubernetes.client import ApiClient
from kubernetes.config import ConfigException, new_client_from_config

from refstack.node_config import NodeConfigError, load_node_config
from refstack.proxy.app import serve

__all__ = ["main"]


def _raise_open_files_limit() -> None:
    """Every forwarded connection holds two sockets: allow as many as the hard limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m refstack.proxy",
        description="Serve each Service's ClusterIP (on 127.b.c.d) and NodePorts on loopback.",
    )
    parser.add_argument("--config", type=Path, required=True, help="the node config YAML")
    args = parser.parse_args(argv)
    try:
        config = load_node_config(args.config)
    except NodeConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        api_client: ApiClient = new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(config.kubeconfig)
        )
    except (ConfigException, OSError) as exc:
        print(
            f"error: kubeconfig {str(config.kubeconfig)!r} from node config "
            f"{str(args.config)!r} cannot be used ({exc}); fix its `kubeconfig`",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s proxy %(message)s"
    )
    _raise_open_files_limit()
    try:
        asyncio.run(serve(config, api_client))
    except OSError as exc:  # the health port cannot be bound
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
