"""Restart decisions and the crash-loop back-off."""

from __future__ import annotations

import pytest

from refstack.node.backoff import CrashBackoff, should_restart


@pytest.mark.parametrize(
    ("policy", "code", "expected"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("OnFailure", 0, False),
        ("OnFailure", 137, True),
        ("Never", 1, False),
        ("Never", 0, False),
    ],
)
def test_restart_policy(policy: str, code: int, expected: bool) -> None:
    assert should_restart(policy, code) is expected


def test_first_restart_is_immediate_then_doubling_up_to_the_cap() -> None:
    backoff = CrashBackoff()
    delays = [backoff.delay_after_exit(0.0, 1.0) for _ in range(7)]
    assert delays == [0.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0]


def test_ten_minutes_of_running_resets_the_back_off() -> None:
    backoff = CrashBackoff()
    for _ in range(4):
        backoff.delay_after_exit(0.0, 1.0)
    assert backoff.delay_after_exit(100.0, 100.0 + 599.0) == 60.0
    assert backoff.delay_after_exit(1000.0, 1000.0 + 600.0) == 0.0
    assert backoff.delay_after_exit(2000.0, 2001.0) == 10.0
