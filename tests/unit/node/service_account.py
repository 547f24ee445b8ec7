"""The service-account token volume as the API server's admission adds it to a pod, and its mount
(for the node agent's volume tests)."""

from __future__ import annotations

from typing import Any

__all__ = ["KUBE_API_ACCESS", "SA_DIR", "SA_MOUNT"]

SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
# what ServiceAccount admission adds unless automountServiceAccountToken is false
KUBE_API_ACCESS: dict[str, Any] = {
    "name": "kube-api-access-x7k2p",
    "projected": {
        "defaultMode": 420,
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
            {
                "configMap": {
                    "name": "kube-root-ca.crt",
                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                }
            },
            {
                "downwardAPI": {
                    "items": [
                        {
                            "path": "namespace",
                            "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                        }
                    ]
                }
            },
        ],
    },
}
SA_MOUNT: dict[str, Any] = {"name": KUBE_API_ACCESS["name"], "mountPath": SA_DIR, "readOnly": True}
