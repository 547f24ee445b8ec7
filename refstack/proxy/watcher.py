"""List and watch one kind of object in all namespaces on a thread, and feed what changes to a sink.

List, then watch from the list's resourceVersion (bookmarks on, the server ends each watch
after ``watch_timeout_s`` and the next one resumes from the last version seen); a 410 Gone
re-lists at once, any other error reports the kind as lost and re-lists after a growing pause.

Hand-written around the client's ``watch.Watch`` rather than its ``informer.SharedInformer``
(kubernetes 37) because the informer says neither when its first list is done (the proxy's
``/healthz`` depends on it) nor when it has lost the API server, and retries a failing watch
without any pause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from kubernetes import watch
from kubernetes.client.exceptions import ApiException

__all__ = ["ListWatcher", "WatchSink"]

T = TypeVar("T")
T_contra = TypeVar("T_contra", contravariant=True)

_log = logging.getLogger(__name__)

_CHANGES = frozenset({"ADDED", "MODIFIED", "DELETED"})


class WatchSink(Protocol[T_contra]):
    """Receives, on the watcher's thread, the state of one kind of object."""

    def replaced(self, kind: str, items: Sequence[T_contra]) -> None:
        """The complete current set (after each list): the kind is in sync from now on."""

    def changed(self, kind: str, event: str, item: T_contra) -> None:
        """One object was ADDED, MODIFIED or DELETED (``item`` is its last state)."""

    def lost(self, kind: str, reason: str) -> None:
        """Listing or watching failed: the kind is out of sync until the next ``replaced``."""


class ListWatcher(Generic[T]):
    """Keeps ``sink`` in step with every object ``list_fn`` lists (e.g. all pods).

    ``list_fn`` is a ``CoreV1Api.list_*_for_all_namespaces`` method; ``convert`` turns each
    API object into what the sink keeps.
    """

    def __init__(
        self,
        kind: str,
        list_fn: Callable[..., Any],
        convert: Callable[[Any], T],
        sink: WatchSink[T],
        *,
        watch_timeout_s: int = 240,
        request_timeout_s: float = 10.0,
        backoff_s: tuple[float, float] = (0.5, 8.0),
    ) -> None:
        self.kind = kind
        self._list_fn = list_fn
        self._convert = convert
        self._sink = sink
        self._watch_timeout_s = watch_timeout_s
        self._request_timeout_s = request_timeout_s
        self._backoff_s = backoff_s
        self._stop = threading.Event()
        self._watch: watch.Watch | None = None
        self._thread = threading.Thread(target=self._run, name=f"watch-{kind}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop watching (the open watch request is cut) and wait up to ``timeout_s``."""
        self._stop.set()
        current = self._watch
        if current is not None:
            current.stop()  # type: ignore[no-untyped-call]
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _run(self) -> None:
        pause = self._backoff_s[0]
        while not self._stop.is_set():
            try:
                version = self._list()
                pause = self._backoff_s[0]
                while not self._stop.is_set():
                    version = self._watch_from(version)
            except ApiException as exc:
                if exc.status == 410:
                    _log.info("%s: watch expired (410 Gone); listing again", self.kind)
                    continue
                self._failed(f"API error {exc.status}: {exc.reason}", pause)
            except Exception as exc:
                self._failed(f"{type(exc).__name__}: {exc}", pause)
            pause = min(pause * 2, self._backoff_s[1])

    def _failed(self, reason: str, pause: float) -> None:
        if self._stop.is_set():
            return
        _log.warning("%s: %s; listing again in %.1f s", self.kind, reason, pause)
        self._sink.lost(self.kind, reason)
        self._stop.wait(pause)

    def _list(self) -> str:
        result = self._list_fn(_request_timeout=self._request_timeout_s)
        items = [self._convert(item) for item in result.items or ()]
        self._sink.replaced(self.kind, items)
        version = result.metadata.resource_version if result.metadata else None
        if not version:
            raise RuntimeError(f"the {self.kind} list carries no resourceVersion")
        return str(version)

    def _watch_from(self, version: str) -> str:
        """Follow changes after ``version`` until the server ends the watch; the last version."""
        stream = watch.Watch()  # type: ignore[no-untyped-call]
        self._watch = stream
        if self._stop.is_set():
            return version
        events = stream.stream(  # type: ignore[no-untyped-call]
            self._list_fn,
            resource_version=version,
            allow_watch_bookmarks=True,
            timeout_seconds=self._watch_timeout_s,
            _request_timeout=(self._request_timeout_s, self._watch_timeout_s + 30),
        )
        try:
            for event in events:
                kind = event.get("type")
                if kind in _CHANGES:
                    self._sink.changed(self.kind, kind, self._convert(event["object"]))
                if self._stop.is_set():
                    break
        finally:
            self._watch = None
        return str(stream.resource_version or version)
