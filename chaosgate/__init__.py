"""chaosgate: proves a restaurant platform keeps its observability promises.

Under realistic load and injected faults: traces, logs, alerts and SLOs, measured.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
