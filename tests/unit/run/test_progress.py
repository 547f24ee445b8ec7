"""The run's live output prints a check's name and reason as they are: a backend's answer
quoted in a reason may hold rich markup ("[/x]", "[bold]"), which must neither crash the run
nor change what is shown."""

from __future__ import annotations

import io

from rich.console import Console

from assertions.result import CheckResult, Status
from chaosgate.run.progress import Progress


def test_a_reason_quoting_markup_is_printed_literally() -> None:
    out = io.StringIO()
    progress = Progress(Console(file=out, width=300, color_system=None), clock=lambda: 0.0)
    reason = "sink at http://127.0.0.1:9095/notifications: HTTP 502: '[/x] [bold]oops'"
    progress.check(CheckResult("alerts.grouping[1]", Status.ERROR, None, None, reason))
    assert out.getvalue().strip() == f"0.0s ERROR alerts.grouping[1]: {reason}"
