"""The store of the local stack's logs and spans: OpenSearch (the default) or Elasticsearch.

One store runs at a time (``chaosgate stack up --logs opensearch|elasticsearch``), on the
ports named ``store`` (HTTP, 9200) and ``store_transport`` (9300); rsyslog ships the services'
logs into it and Jaeger v2 keeps its spans there. Each is an embedded node started by a small
Java launcher in ``refstack/<name>/`` and built from Maven Central artifacts only, so the two
differ in what they run, never in how the launcher treats them: the part is named after the
store, its data and logs live in directories of that name (switching stores never mixes their
indices), and Jaeger's storage backend is the store's own kind.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_STORE", "ELASTICSEARCH", "OPENSEARCH", "STORES", "LogStore", "store_named"]


@dataclass(frozen=True)
class LogStore:
    """What the launcher needs to build, run and configure one kind of store."""

    name: str  # the part's name, the value of --logs, refstack/<name>/ (its Java launcher)
    product: str  # as the user knows it, with the version the launcher embeds
    main_class: str
    jaeger_backend: str  # the key of Jaeger v2's storage backend for it

    @property
    def jar(self) -> str:
        return f"chaosgate-{self.name}.jar"


OPENSEARCH = LogStore(
    name="opensearch",
    product="OpenSearch 2.19.6",
    main_class="local.chaosgate.opensearch.Main",
    jaeger_backend="opensearch",
)
ELASTICSEARCH = LogStore(
    name="elasticsearch",
    product="Elasticsearch 7.17.29",
    main_class="local.chaosgate.elasticsearch.Main",
    jaeger_backend="elasticsearch",
)
STORES: dict[str, LogStore] = {store.name: store for store in (OPENSEARCH, ELASTICSEARCH)}
DEFAULT_STORE = OPENSEARCH


def store_named(name: str) -> LogStore:
    """The store called ``name``; a ValueError naming the choices otherwise."""
    try:
        return STORES[name]
    except KeyError:
        choices = ", ".join(STORES)
        raise ValueError(f"unknown log store {name!r}; choose one of: {choices}") from None
