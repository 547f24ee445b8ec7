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
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

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
    ConfigMaps and Secrets."""

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
            found = self._core.read_namespaced_secret(name, namespace, _request_timeout=TIMEOUT_S)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return dict(raw_json(found))

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
