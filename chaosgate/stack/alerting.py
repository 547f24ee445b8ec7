"""Alertmanager's configuration for the local stack."""

from __future__ import annotations

from collections.abc import Mapping

import yaml

from chaosgate.stack.ports import HOST

__all__ = ["alertmanager_config"]


def alertmanager_config(ports: Mapping[str, int]) -> str:
    config = {
        "route": {
            "receiver": "sink",
            "group_by": ["alertname", "service"],
            "group_wait": "1s",
            "group_interval": "5s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {
                "name": "sink",
                "webhook_configs": [
                    {"url": f"http://{HOST}:{ports['sink']}/alerts", "send_resolved": True}
                ],
            }
        ],
    }
    return yaml.safe_dump(config, sort_keys=False)
