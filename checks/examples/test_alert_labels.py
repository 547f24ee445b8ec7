"""Every alert that reached the on-call receiver carries a severity and a service (or component)."""

from chaosgate.finished_run import FinishedRun
from chaosgate.run.backends import RunBackends


def test_alerts_sent_to_the_webhook_carry_severity_and_an_owner(
    chaosgate_run: FinishedRun, chaosgate_backends: RunBackends
) -> None:
    started = chaosgate_run.folder.started_at
    notes = [
        n
        for n in chaosgate_backends.sink.notifications(receiver="webhook")
        if n.received_at_unix >= started
    ]
    alerts = [alert for note in notes for alert in note.payload.get("alerts", [])]
    if not chaosgate_run.fault_windows:
        return  # a run without faults raises no alert to look at
    assert alerts, "the run's faults sent no alert to the webhook"
    unowned = [
        a["labels"].get("alertname")
        for a in alerts
        if "severity" not in a["labels"] or not ({"service", "component"} & set(a["labels"]))
    ]
    assert not unowned, f"alerts without severity or owner: {sorted(set(unowned))}"
