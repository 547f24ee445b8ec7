"""The only modules that talk HTTP to observability backends; each failure is a BackendError."""

from assertions.backends.alertmanager import AlertmanagerBackend, AlertObservation
from assertions.backends.build_info import BuildInfo
from assertions.backends.elasticsearch import ElasticsearchBackend, LogSummary
from assertions.backends.errors import BackendError
from assertions.backends.jaeger import JaegerBackend, TraceSummary
from assertions.backends.jaeger_queries import JaegerQueries, QueryAnswer
from assertions.backends.prometheus import PrometheusBackend, Sample, Series
from assertions.backends.sink import Notification, SinkBackend
from assertions.backends.span_store import SpanStoreBackend, SpanStoreTrace, TimeRange

__all__ = [
    "AlertObservation",
    "AlertmanagerBackend",
    "BackendError",
    "BuildInfo",
    "ElasticsearchBackend",
    "JaegerBackend",
    "JaegerQueries",
    "LogSummary",
    "Notification",
    "PrometheusBackend",
    "QueryAnswer",
    "Sample",
    "Series",
    "SinkBackend",
    "SpanStoreBackend",
    "SpanStoreTrace",
    "TimeRange",
    "TraceSummary",
]
