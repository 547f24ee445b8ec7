"""The one error of reading, validating and running an experiment file."""

from __future__ import annotations

__all__ = ["ExperimentError"]


class ExperimentError(Exception):
    """An experiment file cannot be loaded, is invalid, or its chaosgate extension is wrong."""
