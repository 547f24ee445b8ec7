"""The notification sink (``chaosgate sink``): every notification Alertmanager delivered to
the webhook, Slack-compatible and SMTP receivers, recorded with its arrival time.

The receivers live in :mod:`chaosgate.receivers`; this module keeps the names its callers
import (``chaosgate.sink.create_sink_app`` and friends).
"""

from __future__ import annotations

from chaosgate.receivers.http import create_sink_app, serve_sink
from chaosgate.receivers.smtp import serve_smtp
from chaosgate.receivers.store import NotificationStore

__all__ = ["NotificationStore", "create_sink_app", "serve_sink", "serve_smtp"]
