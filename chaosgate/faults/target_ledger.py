"""The fault ledger of a target (where ``chaosgate run`` records and ``cleanup`` looks)."""

from __future__ import annotations

from collections.abc import Mapping

from chaosgate.faults.ledger import FaultLedger, ledger_dir
from chaosgate.target import Target

__all__ = ["target_ledger"]


def target_ledger(target: Target, env: Mapping[str, str]) -> FaultLedger:
    """What identifies the deployment a fault was injected into: its gateway and, for
    Kubernetes chaos, its cluster (kubeconfig and context); the same target file used from
    two checkouts shares one ledger, two targets that merely share a name do not."""
    identity: dict[str, object] = {"gateway_url": target.gateway_url, "chaos": target.chaos}
    if target.chaos == "kubernetes":
        identity["kubeconfig"] = target.kubernetes.kubeconfig
        identity["context"] = target.kubernetes.context
    return FaultLedger(ledger_dir(env, target.name, identity))
