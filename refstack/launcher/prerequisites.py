"""What the local reference stack needs before it can be built or started.

The stack runs from a chaosgate checkout (its build inputs, rules and restaurant services live
in the source tree, not in the wheel) with the ``refstack`` extra installed (gunicorn,
SQLAlchemy, the OpenTelemetry SDK for the services; cryptography for the local cluster's
certificates). An installed chaosgate without them still verifies any target; asking it for a
stack gets one line saying what to install, instead of a part that dies at start.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from refstack.launcher.layout import StackLayout

__all__ = ["STACK_MODULES", "StackPrerequisiteError", "check_stack_prerequisites"]

# import name -> the distribution of the `refstack` extra that provides it
STACK_MODULES = {
    "gunicorn": "gunicorn",
    "sqlalchemy": "sqlalchemy",
    "prometheus_client": "prometheus-client",
    "opentelemetry.sdk": "opentelemetry-sdk",
    "opentelemetry.instrumentation.flask": "opentelemetry-instrumentation-flask",
    "cryptography": "cryptography",
}


class StackPrerequisiteError(Exception):
    """No checkout to run the stack from, or the stack's own dependencies are missing."""


def _module_found(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def check_stack_prerequisites(
    layout: StackLayout, *, module_found: Callable[[str], bool] = _module_found
) -> None:
    """Raise :class:`StackPrerequisiteError` naming what is missing and how to get it."""
    if not (layout.refstack_src / "services").is_dir():
        raise StackPrerequisiteError(
            f"the local stack runs from a chaosgate checkout, and {layout.repo_root} is not one "
            "(no refstack/services); run chaosgate from the checkout or set CHAOSGATE_HOME to it"
        )
    missing = sorted({dist for name, dist in STACK_MODULES.items() if not module_found(name)})
    if missing:
        raise StackPrerequisiteError(
            f"the local stack's own dependencies are not installed ({', '.join(missing)}); "
            "install them with `pip install -e '.[refstack]'` in the checkout "
            "(scripts/bootstrap does)"
        )
