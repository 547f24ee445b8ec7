"""Hypothesis profiles for the generated-input tests (tests/unit/test_bad_input.py).

``unit`` (the default, plain ``pytest``): 30 examples a family, so the unit tests stay well
under a minute. ``thorough`` (scripts/test passes ``--hypothesis-profile=thorough``): 150 a
family. Both are derandomized by the tests' own settings, so a run sees the same examples.
Registered here, in the conftest pytest reads before its plugins configure, because
Hypothesis's plugin loads the profile named on the command line at that point."""

from __future__ import annotations

from hypothesis import settings

settings.register_profile("unit", max_examples=30)
settings.register_profile("thorough", max_examples=150)
settings.load_profile("unit")
