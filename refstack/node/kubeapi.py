"""The calls the node agent makes to the API server, on API objects as plain dicts.

Everything the agent computes works on objects shaped as the API's JSON (camelCase keys,
times exactly as the server wrote them: what ``kubectl get -o json`` shows). Reads ask the
kubernetes client for the undecoded response (``_preload_content=False``; non-2xx answers
still raise ``ApiException``) and parse its JSON, so what the agent compares with what it
writes is byte-for-byte the server's.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from refstack.node.clock import rfc3339

__all__ = ["MERGE_PATCH", "PodApi", "is_status", "raw_json"]

_log = logging.getLogger(__name__)
MERGE_PATCH = "application/merge-patch+json"
TIMEOUT_S = 10.0


def raw_json(response: object) -> Any:
    """The parsed body of a call made with ``_preload_content=False``."""
    data = getattr(response, "data", None)
    if not isinstance(data, bytes):
        raise TypeError(f"expected an undecoded HTTP response, got {type(response).__name__!r}")
    return json.loads(data)


def is_status(exc: BaseException, *codes: int) -> bool:
    """Whether ``exc`` is an API error with one of the HTTP ``codes``."""
    return isinstance(exc, ApiException) and exc.status in codes


class PodApi:
    """Reads and writes what a pod's worker needs: its pod, its namespace's Services,
    ConfigMaps and Secrets, its service account's tokens and its Events."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self._client = api_client
        self._core = client.CoreV1Api(api_client)

    def list_pods(self, field_selector: str) -> tuple[list[dict[str, Any]], str]:
        """The pods matching ``field_selector`` and the list's resourceVersion."""
        data = raw_json(
            self._core.list_pod_for_all_namespaces(
                field_selector=field_selector,
                _request_timeout=TIMEOUT_S * 3,
                _preload_content=False,
            )
        )
        return list(data.get("items") or []), str(data["metadata"]["resourceVersion"])

    def services(self, namespace: str) -> list[dict[str, Any]]:
        listed = self._core.list_namespaced_service(
            namespace, _request_timeout=TIMEOUT_S, _preload_content=False
        )
        return list(raw_json(listed).get("items") or [])

    def config_map(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = self._core.read_namespaced_config_map(
                name, namespace, _request_timeout=TIMEOUT_S, _preload_content=False
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(raw_json(found))

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = self._core.read_namespaced_secret(
                name, namespace, _request_timeout=TIMEOUT_S, _preload_content=False
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(raw_json(found))

    def service_account_token(
        self,
        namespace: str,
        service_account: str,
        *,
        audience: str,
        expiration_s: int,
        pod_name: str,
        pod_uid: str,
    ) -> str | None:
        """A token for ``service_account`` bound to the pod (a TokenRequest, as the kubelet
        makes for a projected ``serviceAccountToken``); None when the account does not exist.
        ``audience`` "" asks for the API server's own audiences."""
        body: Any = {  # the client sends a dict as it is
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [audience] if audience else [],
                "expirationSeconds": expiration_s,
                "boundObjectRef": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "name": pod_name,
                    "uid": pod_uid,
                },
            },
        }
        try:
            answer = self._core.create_namespaced_service_account_token(
                service_account,
                namespace,
                body,
                _request_timeout=TIMEOUT_S,
                _preload_content=False,
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return str(raw_json(answer)["status"]["token"])

    def warn(
        self, pod: dict[str, Any], reason: str, message: str, *, node_name: str, at: datetime
    ) -> None:
        """Record a Warning Event on ``pod`` (what ``kubectl describe pod`` lists)."""
        meta = pod["metadata"]
        now = rfc3339(at)
        body: Any = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "reason": reason,
            "message": message,
            "type": "Warning",
            "source": {"component": "kubelet", "host": node_name},
            "reportingComponent": "kubelet",
            "reportingInstance": node_name,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self._core.create_namespaced_event(
            meta["namespace"], body, _request_timeout=TIMEOUT_S, _preload_content=False
        )

    def patch_status(self, namespace: str, name: str, status: dict[str, Any]) -> None:
        """Write ``status`` with a JSON merge patch: its lists replace the stored ones."""
        self._core.patch_namespaced_pod_status(
            name,
            namespace,
            {"status": status},
            _content_type=MERGE_PATCH,
            _request_timeout=TIMEOUT_S,
        )

    def delete_pod(self, namespace: str, name: str, uid: str) -> None:
        """Remove the pod object once its containers are gone, as the kubelet does: at once,
        and only if it is still the same pod (UID precondition). Gone already is fine."""
        options = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=uid)
        )
        try:
            self._core.delete_namespaced_pod(
                name, namespace, grace_period_seconds=0, body=options, _request_timeout=TIMEOUT_S
            )
        except ApiException as exc:
            if exc.status not in (404, 409):
                raise
            _log.info(
                "pod %s/%s (uid %s) is already gone (HTTP %s)", namespace, name, uid, exc.status
            )
