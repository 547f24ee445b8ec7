"""The only modules that talk HTTP to observability backends; each failure is a BackendError."""

from assertions.backends.alertmanager import AlertmanagerBackend, AlertObservation
from assertions.backends.build_info import BuildInfo
from assertions.backends.elasticsearch import ElasticsearchBackend, LogSummary
from assertions.backends.errors import BackendError
from assertions.backends.jaeger import JaegerBackend, TraceSummary
from assertions.backends.prometheus import PrometheusBackend, Sample, Series
from assertions.backends.sink import Notification, SinkBackend

__all__ = [
    "AlertObservation",
    "AlertmanagerBackend",
    "BackendError",
    "BuildInfo",
    "ElasticsearchBackend",
    "JaegerBackend",
    "LogSummary",
    "Notification",
    "PrometheusBackend",
    "Sample",
    "Series",
    "SinkBackend",
    "TraceSummary",
]
