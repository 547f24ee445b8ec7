"""Observations and checks: backends fetch, ``evaluate_*`` judge, every check returns data."""
