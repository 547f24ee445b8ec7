"""Every ``CHAOSGATE_*`` environment variable the suite itself reads or sets, by name.

The rule a user can predict (README, "The target file"): in the environment of a command that
loads a target (``run``, ``validate``, ``target show``, ``cleanup``) every variable whose name
starts with ``CHAOSGATE_``, in any case, must be

- a target field override: ``CHAOSGATE_`` + the field path in upper case joined by ``__``;
- ``CHAOSGATE_PORT_<NAME>``: a port of the local stack (the port table checks the name);
- or one of :data:`SUITE_ENV_VARS` below: variables of the stack, the fault ledger, the load
  (scenarios/README.md) and the tests, which the suite sets for its own children;

anything else stops the command (exit 2) naming the closest known variable. A part of the
suite that reads a new ``CHAOSGATE_`` variable adds it here (a unit test greps the tree).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from types import MappingProxyType

__all__ = ["ENV_PREFIX", "SUITE_ENV_PREFIXES", "SUITE_ENV_VARS", "closest_env_name"]

ENV_PREFIX = "CHAOSGATE_"

SUITE_ENV_PREFIXES: Mapping[str, str] = MappingProxyType(
    {
        "CHAOSGATE_PORT_": (
            "a port of the local stack, CHAOSGATE_PORT_<NAME> (refstack.launcher.ports)"
        )
    }
)

SUITE_ENV_VARS: Mapping[str, str] = MappingProxyType(
    {
        # the checkout, the builds and the local stack (refstack.launcher.layout, .ports, .parts)
        "CHAOSGATE_HOME": "the chaosgate checkout the stack and the specs are read from",
        "CHAOSGATE_CACHE": "the build cache (default ~/.cache/chaosgate)",
        "CHAOSGATE_STACK_DIR": "the local stack's state directory (default .stack)",
        "CHAOSGATE_PORT_OFFSET": "shifts every default port of the local stack",
        "CHAOSGATE_ADMIN_FAULTS": "turns the services' fault switches on (set by the stack)",
        # the fault ledger (chaosgate.faults)
        "CHAOSGATE_STATE_DIR": "where the fault ledger lives",
        # the load, set by the runner for Locust (scenarios/settings.py, scenarios/README.md)
        "CHAOSGATE_SEED": "the load's seed",
        "CHAOSGATE_RUN_ID": "the run id that salts the request ids",
        "CHAOSGATE_LEDGER_DIR": "where the load writes the request ledger",
        "CHAOSGATE_SHAPE": "the load shape (steady, ramp, spike, step)",
        "CHAOSGATE_WEIGHTS": "the user classes' weights",
        "CHAOSGATE_USERS": "users of the load shape",
        "CHAOSGATE_SPAWN_RATE": "spawn rate of the load shape",
        "CHAOSGATE_DURATION_S": "length of the load shape",
        "CHAOSGATE_RAMP_S": "ramp length",
        "CHAOSGATE_SPIKE_USERS": "users of a spike",
        "CHAOSGATE_SPIKE_AT_S": "when the spike starts",
        "CHAOSGATE_SPIKE_LENGTH_S": "how long the spike lasts",
        "CHAOSGATE_SPIKE_SPAWN_RATE": "spawn rate of the spike",
        "CHAOSGATE_STEP_USERS": "users added per step",
        "CHAOSGATE_STEP_S": "length of a step",
        "CHAOSGATE_IOT_DEVICES": "kitchen devices of the IoT fleet",
        "CHAOSGATE_IOT_INTERVAL_S": "heartbeat period of a device",
        "CHAOSGATE_IOT_BATCH_EVERY": "every n-th telemetry is a batch",
        "CHAOSGATE_IOT_BATCH_SIZE": "readings in a batch",
        "CHAOSGATE_IOT_SILENT_SHARE": "share of devices that go silent",
        "CHAOSGATE_IOT_SILENT_FROM_S": "when the silence starts",
        "CHAOSGATE_IOT_SILENT_UNTIL_S": "when the silence ends",
        # the tests (tests/integration, tests/unit)
        "CHAOSGATE_KEEP_STACK": "integration tests leave the stack running",
        "CHAOSGATE_PROXY_TEST_ETCD_PORT": "the service-proxy test's etcd port",
        "CHAOSGATE_PROXY_TEST_API_PORT": "the service-proxy test's API server port",
        "CHAOSGATE_UNDO_PROBE": "a unit test's probe of a child's environment",
    }
)


def _words(name: str) -> str:
    return name.removeprefix(ENV_PREFIX).replace("__", "_")


def closest_env_name(name: str, known: Iterable[str]) -> str | None:
    """The known variable ``name`` most likely meant: the same words with ``_`` for ``__``
    (``CHAOSGATE_SINK_URL`` -> ``CHAOSGATE_SINK__URL``), the field whose last words it is
    (``CHAOSGATE_ALERTS_S`` -> ``CHAOSGATE_DEADLINES__ALERTS_S``), else the closest spelling."""
    upper = name.upper()
    names = sorted(set(known))
    if upper in names:
        return upper
    same = [k for k in names if _words(k) == _words(upper)]
    if same:
        return same[0]
    tail = _words(upper)
    ending = [k for k in names if "__" in k and _words(k).endswith("_" + tail)]
    shallowest = [k for k in ending if k.count("__") == min(e.count("__") for e in ending)]
    if len(shallowest) == 1:  # VERIFY_TLS: elasticsearch's, not jaeger.span_store's
        return shallowest[0]
    close = difflib.get_close_matches(upper, names, n=1, cutoff=0.6)
    return close[0] if close else None
