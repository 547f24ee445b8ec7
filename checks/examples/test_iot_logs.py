"""Every IoT telemetry request leaves an iot access line naming its device (a log field)."""

from chaosgate.checks_plugin import batched
from chaosgate.finished_run import FinishedRun
from chaosgate.run.backends import RunBackends

TELEMETRY = "/api/iot/devices/{id}/telemetry"


def test_each_telemetry_request_is_logged_by_iot_with_its_device(
    chaosgate_run: FinishedRun, chaosgate_backends: RunBackends
) -> None:
    sent = [
        e for e in chaosgate_run.ledger(route=TELEMETRY, in_faults=False) if 200 <= e.status < 300
    ]
    assert sent, "the run sent no telemetry outside its faults: nothing to check"
    store = chaosgate_backends.elasticsearch
    unlogged = []
    for batch in batched([e.request_id for e in sent], 500):
        query = {
            "bool": {
                "filter": [
                    {"terms": {"request_id": batch}},
                    {"term": {"service": "iot"}},
                    {"exists": {"field": "http.path"}},  # the path names the device
                ]
            }
        }
        logged = store.count(query)
        if logged < len(batch):
            unlogged.append(len(batch) - logged)
    assert not unlogged, f"{sum(unlogged)} telemetry requests without an iot access line"
