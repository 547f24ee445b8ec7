"""chaosgate: proves a restaurant platform keeps its observability promises under load and faults."""

__all__ = ["__version__"]

__version__ = "0.1.0"
